"""Hidden-state probe: a linear classifier on the scorer's mean-pooled last hidden state.

The statistics in ``detect.perplexity`` summarise only the probabilities the scorer assigns; the hidden state
also carries what the scorer "thinks" of the text's style and topic (probes on LM representations separate
machine from human text in-domain; whether that survives a new domain or generator is what the left-out splits
decide). The states come free from the forward pass the statistics already need (``detect.binoculars`` returns
them), and a strongly regularised logistic regression keeps 512 inputs from memorising a few thousand texts.
"""

from __future__ import annotations

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def build_probe(C: float = 0.05, seed: int = 0) -> Pipeline:
    """Untrained probe; ``C`` small because the inputs are many and correlated."""
    return Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("scale", StandardScaler()),
        ("logit", LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=seed)),
    ])


def probe_margin(probe: Pipeline, states: np.ndarray) -> np.ndarray:
    """Signed distance from the probe's boundary (positive = machine-like)."""
    return probe.decision_function(np.asarray(states, dtype=np.float64))
