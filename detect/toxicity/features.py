"""Features of the toxicity model: hashed word and character n-grams of the normalised text.

Why hashing: no vocabulary to fit or store, constant memory, and the same transform at training and scoring
time, so a bundle is small and scoring is one sparse matrix product (thousands of texts per second on one
core). Character n-grams (``char_wb`` 3-5) catch obfuscated and inflected forms that survive normalisation
("fck", "idiots"); word 1-2-grams catch phrases. Sub-linear TF-IDF (fitted on the training texts) keeps long
texts and frequent function words from dominating. Only hash columns seen in training are kept
(``SeenColumns``): the classifiers then solve over tens or hundreds of thousands of weights instead of two
million, which makes training several times faster and the bundle small.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.pipeline import FeatureUnion, Pipeline, make_union

from detect.toxicity.lexicon import FEATURE_NAMES, LexiconFeatures
from detect.toxicity.stance import CONTEXT_HASH_BITS, StanceFeatures, group_context_terms

HASH_BITS = 20
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (3, 5)  # 2-grams cost 40% of scoring time and add little over 3-5


class SeenColumns(BaseEstimator, TransformerMixin):
    """Keep the columns that are non-zero somewhere in the training matrix (unseen ones carry no weight)."""

    def fit(self, matrix: sparse.spmatrix, y: Any = None) -> SeenColumns:
        self.columns_ = np.unique(sparse.csr_matrix(matrix).indices)
        return self

    def transform(self, matrix: sparse.spmatrix) -> sparse.csr_matrix:
        return sparse.csr_matrix(matrix)[:, self.columns_]


def build_features(lexicon: bool = True, stance: bool = False, group_context: bool = False,
                   member_weights: dict[str, float] | None = None) -> Pipeline | FeatureUnion:
    """An unfitted text -> sparse matrix transform (fit it on normalised training texts): tf-idf n-grams, plus
    (``lexicon``) the source-independent cue columns of ``lexicon.LexiconFeatures`` beside them, outside the
    tf-idf normalisation so a long text does not dilute its cues. ``member_weights`` scales union members
    ("cues", "stance", "group_context"): under the same L2 penalty a smaller scale makes a column dearer to
    use, so the dense columns cannot swamp the n-grams."""
    words = HashingVectorizer(analyzer="word", ngram_range=WORD_NGRAMS, n_features=2**HASH_BITS,
                              alternate_sign=False, norm=None, lowercase=False, token_pattern=r"\b\w+\b")
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, n_features=2**HASH_BITS,
                              alternate_sign=False, norm=None, lowercase=False)
    ngrams = Pipeline([("ngrams", make_union(words, chars)), ("seen", SeenColumns()),
                       ("tfidf", TfidfTransformer(sublinear_tf=True))])
    if not lexicon:
        return ngrams
    parts: list[tuple[str, Any]] = [("ngrams", ngrams), ("cues", LexiconFeatures())]
    if stance:  # a separate member, so bundles pickled without it keep their column count
        parts.append(("stance", StanceFeatures()))
    if group_context:  # n-grams around group mentions, the group masked (``stance.group_context_terms``)
        context = HashingVectorizer(analyzer=group_context_terms, n_features=2**CONTEXT_HASH_BITS,
                                    alternate_sign=False, norm="l2")
        parts.append(("group_context", Pipeline([("hash", context), ("seen", SeenColumns())])))
    return FeatureUnion(parts, transformer_weights=member_weights or None)


def describe_features() -> dict[str, object]:
    """What the model card says about the features."""
    return {"hashed_ngrams": [f"word {WORD_NGRAMS[0]}-{WORD_NGRAMS[1]}", f"char_wb {CHAR_NGRAMS[0]}-{CHAR_NGRAMS[1]}"],
            "hash_bits": HASH_BITS, "weighting": "sublinear tf-idf, l2", "lm_hidden_states": False,
            "cue_columns": list(FEATURE_NAMES)}
