"""Evaluation harness: a bundle on labelled data, and hold-out tables that retrain per held-out slice.

* ``evaluate_items``: every detector's AUROC and TPR at 1% FPR, and the ensemble's FPR/TPR at the
  shipped threshold, each with a stratified bootstrap 95% interval.
* ``holdout_table``: for each value of a column (domain or generator), train the ensemble without the
  value's rows and without any row sharing a prompt group with the test rows, and test on the value's rows
  (human rows of those groups + machine rows of that value). When the value's prompt groups cover most of
  the data (each generator continues the same passages), a random half of its groups is held out.
  This is how the platform is expected to behave on a domain or a generator it has never seen, which is
  what matters in deployment.
* ``roc_plot``: a real PNG ROC chart (matplotlib, Agg backend, no display needed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detect.classifier import ScoredText
from detect.ensemble import TrainedEnsemble, train_ensemble
from detect.metrics import metrics_with_ci, point_metrics


def evaluate_items(ensemble: TrainedEnsemble, items: Sequence[ScoredText], labels: np.ndarray, *,
                   replicates: int = 200, seed: int = 0) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metrics per detector and for the ensemble, plus the raw score arrays (for plots)."""
    judged = [i for i, item in enumerate(items) if ensemble.abstain.reason(item) is None]
    subset = [items[i] for i in judged]
    y = np.asarray(labels)[judged]
    scores, _ = ensemble.detector_scores(subset)
    scores["ensemble"] = ensemble.probabilities(subset)
    report = {}
    for name, values in scores.items():
        threshold = ensemble.thresholds.machine if name == "ensemble" else None
        report[name] = metrics_with_ci(y, values, threshold, replicates=replicates, seed=seed)
    report["ensemble"]["abstained"] = len(items) - len(judged)
    verdicts = ensemble.judge(subset)
    counts: dict[str, dict[str, int]] = {"human": {}, "machine": {}}
    for verdict, label in zip(verdicts, y, strict=True):
        side = counts["machine" if label == 1 else "human"]
        side[verdict.verdict] = side.get(verdict.verdict, 0) + 1
    report["ensemble"]["verdicts_by_label"] = counts
    return report, {"labels": y, **scores}


def holdout_splits(labels: np.ndarray, groups: np.ndarray, column: np.ndarray, *, seed: int = 0,
                   skip: Sequence[str] = ("human",)) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(value, train indices, test indices) per held-out value of ``column`` (see module docstring).

    Shared by ``holdout_table`` and the benches that evaluate extra signals, so every figure for a split is
    measured on the same texts."""
    labels, groups, column = np.asarray(labels), np.asarray(groups), np.asarray(column)
    rng = np.random.default_rng(seed)
    for value in [value for value in np.unique(column) if value not in skip]:
        is_value = column == value
        test_groups = np.unique(groups[is_value])
        if np.isin(groups, test_groups).mean() > 0.5:
            # The value's prompts cover most of the data (every generator continues every passage): hold
            # out a random half of them, so the training side keeps the other half.
            test_groups = rng.choice(test_groups, size=max(len(test_groups) // 2, 1), replace=False)
        in_test_groups = np.isin(groups, test_groups)
        test = np.flatnonzero(in_test_groups & (is_value | (labels == 0)))
        train = np.flatnonzero(~in_test_groups & ~is_value)
        yield str(value), train, test


def holdout_table(items: Sequence[ScoredText], labels: np.ndarray, groups: np.ndarray, column: np.ndarray, *,
                  target_fpr: float = 0.01, n_splits: int = 3, seed: int = 0, skip: Sequence[str] = ("human",),
                  stage: Callable[[str], None] | None = None, stacker: str = "logit") -> dict[str, Any]:
    """Leave-one-value-out over ``column`` (see module docstring); point metrics per detector."""
    labels = np.asarray(labels)
    table: dict[str, Any] = {}
    for value, train, test in holdout_splits(labels, groups, column, seed=seed, skip=skip):
        if len(np.unique(labels[train])) < 2 or len(np.unique(labels[test])) < 2:
            table[value] = {"error": "needs human and machine texts on both sides"}
            continue
        if stage is not None:
            stage(f"hold-out {value}: train {len(train)}, test {len(test)}")
        result = train_ensemble([items[i] for i in train], labels[train], np.asarray(groups)[train],
                                np.asarray(column)[train], target_fpr=target_fpr, n_splits=n_splits, seed=seed,
                                stacker=stacker)
        ensemble = result.ensemble
        test_items = [items[i] for i in test]
        judged = [k for k, item in enumerate(test_items) if ensemble.abstain.reason(item) is None]
        test_items = [test_items[k] for k in judged]
        y = labels[test][judged]
        scores, _ = ensemble.detector_scores(test_items)
        row = {name: _rounded(point_metrics(y, vals)) for name, vals in scores.items()}
        row["ensemble"] = _rounded(point_metrics(y, ensemble.probabilities(test_items), ensemble.thresholds.machine))
        row["n_train"], row["n_test_human"], row["n_test_machine"] = len(train), int((y == 0).sum()), int(y.sum())
        table[value] = row
    return table


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 4) for key, value in metrics.items()}


def roc_plot(path: Path, curves: dict[str, np.ndarray], labels: np.ndarray, title: str,
             names: Sequence[str] = ("ensemble", "classifier", "fast_detectgpt", "log_likelihood", "log_rank")) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    figure, axis = plt.subplots(figsize=(6, 5), dpi=110)
    for name in names:
        if name not in curves:
            continue
        scores = np.asarray(curves[name], dtype=np.float64)
        keep = np.isfinite(scores)
        if len(np.unique(labels[keep])) < 2:
            continue
        fpr, tpr, _ = roc_curve(labels[keep], scores[keep])
        axis.plot(fpr, tpr, label=f"{name} (AUROC {roc_auc_score(labels[keep], scores[keep]):.3f})",
                  linewidth=2 if name == "ensemble" else 1)
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axis.axvline(0.01, linestyle="--", color="grey", linewidth=0.8)
    axis.set_xlabel("false-positive rate (human text called machine)")
    axis.set_ylabel("true-positive rate")
    axis.set_title(title)
    axis.legend(loc="lower right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
    return path
