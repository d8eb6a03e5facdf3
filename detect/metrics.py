"""Detection metrics with bootstrap confidence intervals.

AUROC and TPR at a fixed FPR summarise ranking quality; "FPR at the shipped threshold" checks that the
bundle's decision threshold keeps its promise on new data. Intervals are percentile bootstraps that
resample human and machine texts separately (stratified), so each replicate has both classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney form of the ROC area (ties count one half); equals sklearn's roc_auc_score."""
    ranks = rankdata(scores)
    positives = labels == 1
    n1, n0 = int(positives.sum()), int((~positives).sum())
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr_target: float = 0.01) -> float:
    """Highest TPR among ROC operating points whose FPR does not exceed the target (no interpolation).

    At most k = floor(target * n_human) human scores may reach the threshold, so the best threshold lies
    just above the (k+1)-th highest human score.
    """
    humans = np.sort(scores[labels == 0])[::-1]
    machines = scores[labels == 1]
    allowed = int(np.floor(fpr_target * humans.size + 1e-9))
    if allowed >= humans.size:
        return 1.0
    return float((machines > humans[allowed]).mean())


def _clean(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    keep = np.isfinite(scores)
    return np.asarray(labels)[keep], scores[keep]


def point_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float | None = None,
                  fpr_target: float = 0.01) -> dict[str, float]:
    labels, scores = _clean(labels, scores)
    result = {"auroc": auroc(labels, scores), "tpr_at_1pct_fpr": tpr_at_fpr(labels, scores, fpr_target)}
    if threshold is not None:
        result["fpr_at_threshold"] = float((scores[labels == 0] >= threshold).mean())
        result["tpr_at_threshold"] = float((scores[labels == 1] >= threshold).mean())
    return result


def verdict_rates(labels: np.ndarray, verdicts: Sequence[str]) -> dict[str, float]:
    """What users get: shares of each class per verdict. "fpr_at_threshold" reads one global threshold; a bundle
    with domain thresholds (``detect.domain_router``) judges some texts by their domain's, which only verdicts show."""
    labels, verdicts = np.asarray(labels), np.asarray(list(verdicts))
    humans, machines = verdicts[labels == 0], verdicts[labels == 1]

    def share(values: np.ndarray, verdict: str) -> float:
        return float(np.mean(values == verdict)) if values.size else float("nan")

    return {"humans_called_machine": share(humans, "machine"), "machines_called_machine": share(machines, "machine"),
            "humans_called_human": share(humans, "human"), "machines_called_human": share(machines, "human"),
            "uncertain_share": share(verdicts, "uncertain")}


def metrics_with_ci(labels: np.ndarray, scores: np.ndarray, threshold: float | None = None, *,
                    replicates: int = 200, seed: int = 0, fpr_target: float = 0.01) -> dict[str, Any]:
    """Point estimates plus 95% stratified-bootstrap intervals, and the counts they rest on."""
    labels, scores = _clean(labels, scores)
    if len(np.unique(labels)) < 2:
        return {"n_human": int((labels == 0).sum()), "n_machine": int((labels == 1).sum()),
                "error": "needs both human and machine texts"}
    point = point_metrics(labels, scores, threshold, fpr_target)
    rng = np.random.default_rng(seed)
    human, machine = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    draws: dict[str, list[float]] = {key: [] for key in point}
    for _ in range(replicates):
        idx = np.concatenate([rng.choice(human, human.size), rng.choice(machine, machine.size)])
        for key, value in point_metrics(labels[idx], scores[idx], threshold, fpr_target).items():
            draws[key].append(value)
    result: dict[str, Any] = {"n_human": int(human.size), "n_machine": int(machine.size)}
    for key, value in point.items():
        low, high = np.percentile(draws[key], [2.5, 97.5])
        result[key] = round(value, 4)
        result[f"{key}_ci95"] = [round(float(low), 4), round(float(high), 4)]
    return result
