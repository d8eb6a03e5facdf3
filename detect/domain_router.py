"""Which training domain a text resembles, so that domain's own thresholds can judge it.

Why: the ensemble's global thresholds must keep their false-positive promise in *every* domain and on
leave-one-domain-out predictions (a domain nobody trained on), so they are set by the hardest domain, and each new
domain can only widen the band between them. Reviewers labelling a new domain then made more texts ``uncertain``,
not fewer (issue 25). A text that clearly belongs to a domain the bundle trained on does not need the unseen-domain
allowance: its domain's own out-of-fold thresholds keep the promise there (group-conditional, "Mondrian",
calibration). A text the router is not confident about keeps the global thresholds, so an unseen kind of text
is still judged as conservatively as before.

The router reads words only (hashed unigrams and bigrams, TF-IDF, multinomial logistic regression): domain is
a property of topic and register, which words carry, and this keeps routing cheap beside the scorer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

ROUTE_CONFIDENCE = 0.9  # a text takes its domain's thresholds only when the router is at least this sure
MIN_ROUTED_TEXTS = 40  # per class (human and machine) for a domain to get thresholds of its own
MIN_ROUTING_PRECISION = 0.95  # out-of-fold: of the texts routed to a domain, this share must really be from it
HASH_FEATURES = 2**18


def build_router(seed: int = 0) -> Pipeline:
    """The untrained router pipeline (module docstring)."""
    return Pipeline([
        ("hash", HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=HASH_FEATURES,
                                   alternate_sign=False, norm=None, lowercase=True)),
        ("idf", TfidfTransformer(sublinear_tf=True)),
        ("model", LogisticRegression(C=30.0, max_iter=2000, random_state=seed)),
    ])


class DomainRouter:
    """A fitted router restricted to the domains whose routing held up out of fold."""

    def __init__(self, model: Pipeline, domains: Sequence[str], confidence: float = ROUTE_CONFIDENCE) -> None:
        self.model = model
        self.domains = tuple(domains)  # the routable ones: a text routed elsewhere keeps the global thresholds
        self.confidence = confidence

    def route(self, texts: Sequence[str]) -> list[tuple[str | None, float]]:
        """(domain or None, the router's probability for its top domain) per text."""
        if not texts:
            return []
        probabilities = self.model.predict_proba(list(texts))
        classes = self.model.classes_
        routes: list[tuple[str | None, float]] = []
        for row in probabilities:
            top = int(np.argmax(row))
            domain, sure = str(classes[top]), float(row[top])
            routes.append((domain if sure >= self.confidence and domain in self.domains else None, sure))
        return routes


def fit_router(texts: Sequence[str], domains: np.ndarray, eligible: Sequence[str], *, seed: int = 0,
               confidence: float = ROUTE_CONFIDENCE) -> DomainRouter | None:
    """A router over every training domain, routable only to ``eligible`` domains whose out-of-fold routing
    precision at ``confidence`` is at least MIN_ROUTING_PRECISION (None when none qualifies).

    Every domain is a class, eligible or not, so that text of a small domain is not forced into a large one."""
    domains = np.asarray(domains).astype(str)
    names, counts = np.unique(domains, return_counts=True)
    if len(names) < 2 or not eligible:
        return None
    splits = int(min(5, counts.min()))
    if splits < 2:
        return None
    folds = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
    probabilities = cross_val_predict(build_router(seed), list(texts), domains, cv=folds, method="predict_proba")
    top = names[np.argmax(probabilities, axis=1)]  # np.unique's order is the estimator's class order
    sure = probabilities.max(axis=1) >= confidence
    routable = [name for name in eligible
                if (sure & (top == name)).sum() > 0
                and (domains[sure & (top == name)] == name).mean() >= MIN_ROUTING_PRECISION]
    if not routable:
        return None
    return DomainRouter(build_router(seed).fit(list(texts), domains), routable, confidence)
