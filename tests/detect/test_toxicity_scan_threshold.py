"""The scan threshold rule (pooled FPR at the target, each source up to its sampling error) and the recipe knobs
the scan-recall bench compares (a logit blend as one classifier, weighted feature-union members)."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from detect.toxicity.features import build_features
from detect.toxicity.training import SOURCE_FPR_Z, blended, threshold_at_fpr


def _rows(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A large clean source and a small one whose non-toxic tail is long (label noise)."""
    big = rng.uniform(0.0, 0.6, 2000)
    small = np.concatenate([rng.uniform(0.0, 0.5, 188), np.linspace(0.70, 0.95, 12)])
    scores = np.concatenate([big, small, rng.uniform(0.8, 1.0, 300)])
    labels = np.concatenate([np.zeros(2200, dtype=int), np.ones(300, dtype=int)])
    sources = np.array(["big"] * 2000 + ["small"] * 200 + ["big"] * 150 + ["small"] * 150)
    return labels, scores, sources


def test_strict_rule_lets_a_small_noisy_tail_set_the_threshold() -> None:
    labels, scores, sources = _rows(np.random.default_rng(0))
    strict = threshold_at_fpr(labels, scores, sources, 0.05, source_z=0.0)
    small_negatives = scores[(sources == "small") & (labels == 0)]
    assert (small_negatives >= strict).sum() <= 10  # 5% of 200 exactly
    assert strict > 0.7  # the label-noise tail decides it


def test_tolerant_rule_allows_each_source_its_sampling_error_but_not_the_pool() -> None:
    labels, scores, sources = _rows(np.random.default_rng(0))
    threshold = threshold_at_fpr(labels, scores, sources, 0.05)
    small_negatives = scores[(sources == "small") & (labels == 0)]
    allowed = int(np.floor(0.05 * 200 + SOURCE_FPR_Z * np.sqrt(0.05 * 200 * 0.95)))
    assert (small_negatives >= threshold).sum() <= allowed
    assert threshold < threshold_at_fpr(labels, scores, sources, 0.05, source_z=0.0)
    pooled_negatives = scores[labels == 0]
    assert (pooled_negatives >= threshold).mean() <= 0.05


def test_tolerant_rule_equals_strict_rule_when_no_source_has_a_long_tail() -> None:
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.uniform(0, 0.5, 1000), rng.uniform(0.5, 1, 1000)])
    labels = np.concatenate([np.zeros(1000, dtype=int), np.ones(1000, dtype=int)])
    sources = np.array(["one"] * 1000 + ["one"] * 1000)
    assert threshold_at_fpr(labels, scores, sources, 0.05) == threshold_at_fpr(labels, scores, sources, 0.05,
                                                                                source_z=0.0)


def test_blend_is_one_logistic_regression_with_the_mixed_logit() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 5))
    y = (x[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    first = LogisticRegression().fit(x, y)
    second = LogisticRegression(C=0.1).fit(x, 1 - y)
    mixed = blended(first, second, 0.25)
    expected = 0.75 * first.decision_function(x) + 0.25 * second.decision_function(x)
    assert np.allclose(mixed.decision_function(x), expected)
    assert np.allclose(mixed.predict_proba(x)[:, 1], 1 / (1 + np.exp(-expected)))


def test_member_weights_scale_only_the_named_member() -> None:
    texts = ["gay people are lovely", "those people are filthy vermin", "what a lovely day"]
    plain = build_features(stance=True).fit(texts)
    scaled = build_features(stance=True, member_weights={"stance": 0.5}).fit(texts)
    a, b = plain.transform(texts).toarray(), scaled.transform(texts).toarray()
    stance_columns = slice(a.shape[1] - 7, a.shape[1])
    assert np.allclose(b[:, stance_columns], 0.5 * a[:, stance_columns])
    assert np.allclose(b[:, : a.shape[1] - 7], a[:, : a.shape[1] - 7])
