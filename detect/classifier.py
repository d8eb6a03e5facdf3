"""The trained classifier: one scikit-learn pipeline over perplexity statistics, stylometry and hashed n-grams.

Each example is a ``ScoredText`` (normalised text plus its perplexity statistics), so the pipeline can be
cross-validated and pickled as one object. Dense features are imputed and standardised; character and
word n-grams are hashed and IDF-weighted; a logistic regression combines them (sparse-friendly, fast,
and its margin is a well-behaved input for the stacker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler

from detect.features import STYLOMETRIC_FEATURES, stylometric_matrix
from detect.perplexity import MACHINE_DIRECTION, STATISTICS, PerplexityStats

DENSE_FEATURES = (*STATISTICS, "log_tokens", *STYLOMETRIC_FEATURES)
HASH_FEATURES = 2**18


@dataclass(frozen=True)
class ScoredText:
    """A normalised text with the scorer's statistics for it: the classifier's unit of input."""

    text: str
    stats: PerplexityStats
    state: np.ndarray | None = field(default=None, compare=False)  # pooled hidden state (``detect.probe``)


def perplexity_matrix(items: Sequence[ScoredText]) -> np.ndarray:
    rows = [[getattr(item.stats, name) * MACHINE_DIRECTION[name] for name in STATISTICS]
            + [float(np.log1p(item.stats.tokens))] for item in items]
    return np.asarray(rows, dtype=np.float64).reshape(len(items), len(STATISTICS) + 1)


class DenseFeatures(BaseEstimator, TransformerMixin):
    """Perplexity statistics + log length + stylometric features, as one dense matrix."""

    def fit(self, items: Sequence[ScoredText], y: object = None) -> DenseFeatures:
        return self

    def transform(self, items: Sequence[ScoredText]) -> np.ndarray:
        stylometry = stylometric_matrix([item.text for item in items])
        matrix = np.hstack([perplexity_matrix(items), stylometry])
        matrix[~np.isfinite(matrix)] = np.nan
        return matrix


class TextColumn(BaseEstimator, TransformerMixin):
    def fit(self, items: Sequence[ScoredText], y: object = None) -> TextColumn:
        return self

    def transform(self, items: Sequence[ScoredText]) -> list[str]:
        return [item.text for item in items]


def build_classifier(C: float = 1.0, seed: int = 0) -> Pipeline:
    """The untrained pipeline (see module docstring)."""
    dense = Pipeline([
        ("extract", DenseFeatures()),
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
    ])
    chars = Pipeline([
        ("extract", TextColumn()),
        ("hash", HashingVectorizer(analyzer="char_wb", ngram_range=(2, 4), n_features=HASH_FEATURES,
                                   alternate_sign=False, norm=None, lowercase=True)),
        ("idf", TfidfTransformer(sublinear_tf=True)),
    ])
    words = Pipeline([
        ("extract", TextColumn()),
        ("hash", HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=HASH_FEATURES,
                                   alternate_sign=False, norm=None, lowercase=True,
                                   token_pattern=r"(?u)\b\w+\b|[^\w\s]")),
        ("idf", TfidfTransformer(sublinear_tf=True)),
    ])
    features = FeatureUnion([("dense", dense), ("chars", chars), ("words", words)])
    # Dual liblinear: far fewer texts than hashed features, where the dual problem is the cheap one.
    model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced", solver="liblinear", dual=True,
                               random_state=seed)
    return Pipeline([("features", features), ("model", model)])


def classifier_margin(pipeline: Pipeline, items: Sequence[ScoredText]) -> np.ndarray:
    """The classifier's signed margin (log-odds): higher = more machine-like."""
    return np.asarray(pipeline.decision_function(list(items)), dtype=np.float64)
