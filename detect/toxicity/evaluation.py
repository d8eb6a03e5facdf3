"""Toxicity metrics: AUROC, TPR at 5% FPR, F1 at the shipped threshold, cross-source and bias tables.

Why these: AUROC and TPR at a fixed FPR describe the ranking independent of any threshold; F1 and the FPR at
the shipped threshold check the decision the platform actually makes. "Toxic" means different things in
different sources, so a model is also trained on one source and tested on another (the cross-source table):
that, not the within-source score, predicts behaviour on a source nobody labelled. The bias check compares
false-positive rates on non-toxic texts that mention identity groups with those that do not: a model that
learnt "mentions Muslims" as a toxicity cue fails it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from detect.metrics import auroc, tpr_at_fpr

REPORT_FPR = 0.05
IDENTITY_TERMS = ("gay", "lesbian", "muslim", "muslims", "islam", "black", "blacks", "jew", "jews", "jewish",
                  "woman", "women", "girl", "girls", "trans", "asian", "mexican", "immigrant", "immigrants")
_IDENTITY = re.compile(r"\b(?:" + "|".join(IDENTITY_TERMS) + r")\b", re.IGNORECASE)
# Groups that no augmentation or rule list names (``augment.AUGMENTATION_GROUPS`` leaves them out on
# purpose): the bias bench measures whether the fix generalises to them. Measurement only; the model never
# sees this list.
HELD_OUT_GROUPS: dict[str, tuple[str, ...]] = {
    "chinese": ("chinese",),
    "native_american": ("native american", "native americans", "native people", "indigenous"),
    "disability": ("disabled", "disability", "disabilities", "autistic", "wheelchair", "deaf", "blind"),
    "middle_east": ("middle eastern", "middle east", "iranian", "iranians", "syrian", "syrians"),
    "sikh_hindu": ("sikh", "sikhs", "hindu", "hindus"),
}
_HELD_OUT = {group: re.compile(r"\b(?:" + "|".join(terms) + r")\b", re.IGNORECASE)
             for group, terms in HELD_OUT_GROUPS.items()}
# Any identity mention at all (listed, held out, or other common ones): "mentions no identity" needs a wide net.
_ANY_IDENTITY = re.compile(r"\b(?:" + "|".join(
    IDENTITY_TERMS + tuple(t for terms in HELD_OUT_GROUPS.values() for t in terms) + (
        "christian", "christians", "white", "whites", "african", "africans", "arab", "arabs", "latino", "latinos",
        "latina", "hispanic", "hispanics", "mexicans", "asians", "lgbt", "lgbtq", "bisexual", "transgender",
        "queer", "homosexual", "homosexuals", "gays", "lesbians", "refugee", "refugees", "female", "females",
        "jewish", "islamic", "muslims", "immigration", "race", "racial", "ethnic", "religion", "religious",
        "mexico", "china", "israel", "africa", "asia", "india", "indian", "indians")) + r")\b", re.IGNORECASE)


def mentions_identity(text: str) -> bool:
    return _IDENTITY.search(text) is not None


def mentions_any_identity(text: str) -> bool:
    """Wider than ``mentions_identity``: includes held-out groups and words for race, religion, origin."""
    return _ANY_IDENTITY.search(text) is not None


def held_out_groups_in(text: str) -> list[str]:
    return [group for group, pattern in _HELD_OUT.items() if pattern.search(text)]


def held_out_group_bias(texts: Sequence[str], labels: np.ndarray, scores: np.ndarray, threshold: float,
                        targets: Sequence[Sequence[str]] = ()) -> dict[str, Any]:
    """FPR at ``threshold`` on non-toxic texts naming each held-out group (by its terms, or by the source's
    ``target:`` field) vs non-toxic texts naming no identity at all, and the gap in points."""
    labels = np.asarray(labels)
    flagged = np.asarray(scores) >= threshold
    negatives = np.flatnonzero(labels == 0)
    none = np.array([not mentions_any_identity(texts[i]) for i in negatives], dtype=bool)
    baseline = float(flagged[negatives[none]].mean()) if none.any() else None
    result: dict[str, Any] = {"threshold": round(float(threshold), 6), "n_no_identity": int(none.sum()),
                              "fpr_no_identity": None if baseline is None else round(baseline, 4), "groups": {}}
    for group in HELD_OUT_GROUPS:
        members = [i for i in negatives if group in held_out_groups_in(texts[i])
                   or (targets and group in _target_groups(targets[i]))]
        if not members:
            continue
        fpr = float(flagged[members].mean())
        result["groups"][group] = {"n": len(members), "fpr": round(fpr, 4),
                                   "gap_points": None if baseline is None else round(100 * (fpr - baseline), 2)}
    return result


def _target_groups(targets: Sequence[str]) -> set[str]:
    """Map a source's target names (ToxiGen: ``native_american``, ``mental_disability``...) to held-out groups."""
    found = set()
    for name in targets:
        for group in HELD_OUT_GROUPS:
            if group in name or (group == "disability" and "disability" in name):
                found.add(group)
    return found


def toxicity_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float | None = None) -> dict[str, Any]:
    """Counts, AUROC, TPR at 5% FPR; with a threshold also F1, precision, TPR and FPR at it."""
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    result: dict[str, Any] = {"n_toxic": int((labels == 1).sum()), "n_non_toxic": int((labels == 0).sum())}
    if len(np.unique(labels)) < 2:
        result["error"] = "needs toxic and non-toxic texts"
        return result
    result["auroc"] = round(auroc(labels, scores), 4)
    result["tpr_at_5pct_fpr"] = round(tpr_at_fpr(labels, scores, REPORT_FPR), 4)
    if threshold is not None:
        predicted = scores >= threshold
        true_positive = int((predicted & (labels == 1)).sum())
        precision = true_positive / max(int(predicted.sum()), 1)
        recall = true_positive / max(int((labels == 1).sum()), 1)
        result["f1_at_threshold"] = round(2 * precision * recall / max(precision + recall, 1e-12), 4)
        result["precision_at_threshold"] = round(precision, 4)
        result["tpr_at_threshold"] = round(recall, 4)
        result["fpr_at_threshold"] = round(float(predicted[labels == 0].mean()), 4)
    return result


def per_source_metrics(labels: np.ndarray, scores: np.ndarray, sources: np.ndarray,
                       threshold: float | None) -> dict[str, Any]:
    """Pooled metrics plus one entry per source."""
    table: dict[str, Any] = {"pooled": toxicity_metrics(labels, scores, threshold)}
    for source in sorted(set(sources.tolist())):
        mask = sources == source
        table[source] = toxicity_metrics(labels[mask], scores[mask], threshold)
    return table


def bias_check(texts: Sequence[str], labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """FPR at the threshold on non-toxic texts with and without identity terms (and the gap)."""
    non_toxic = np.flatnonzero(np.asarray(labels) == 0)
    mentions = np.array([mentions_identity(texts[i]) for i in non_toxic], dtype=bool)
    flagged = np.asarray(scores)[non_toxic] >= threshold

    def rate(mask: np.ndarray) -> float | None:
        return round(float(flagged[mask].mean()), 4) if mask.any() else None

    with_terms, without = rate(mentions), rate(~mentions)
    gap = None if with_terms is None or without is None else round(with_terms - without, 4)
    return {"identity_terms": list(IDENTITY_TERMS), "n_with_identity": int(mentions.sum()),
            "n_without_identity": int((~mentions).sum()), "fpr_with_identity": with_terms,
            "fpr_without_identity": without, "fpr_gap": gap}


def cross_source_table(features_texts: Sequence[str], labels: np.ndarray, sources: np.ndarray,
                       fit: Callable[[list[str], np.ndarray], Callable[[list[str]], np.ndarray]],
                       stage: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Train on one source, test on each other source (and on all others pooled when there are 3+)."""
    names = [s for s in sorted(set(sources.tolist())) if len(np.unique(labels[sources == s])) == 2]
    rows: list[dict[str, Any]] = []
    if len(names) < 2:
        return rows
    for train_on in names:
        if stage:
            stage(f"cross-source: training on {train_on}")
        train_idx = np.flatnonzero(sources == train_on)
        predict = fit([features_texts[i] for i in train_idx], labels[train_idx])
        for test_on in names:
            if test_on == train_on:
                continue
            test_idx = np.flatnonzero(sources == test_on)
            scores = predict([features_texts[i] for i in test_idx])
            metrics = toxicity_metrics(labels[test_idx], scores)
            rows.append({"train": train_on, "test": test_on, "auroc": metrics.get("auroc"),
                         "tpr_at_5pct_fpr": metrics.get("tpr_at_5pct_fpr"), "n_test": int(test_idx.size)})
    return rows


def leave_one_source_out_table(features_texts: Sequence[str], labels: np.ndarray, sources: np.ndarray,
                               categories: Sequence[Sequence[str]],
                               fit: Callable[..., Callable[[list[str]], np.ndarray]],
                               stage: Callable[[str], None] | None = None,
                               ) -> list[dict[str, Any]]:
    """The headline protocol: for each source with both labels, train on *all other* sources (one-label
    sources included; ``fit(texts, labels, sources=...)``) and test on it; AUROC overall and per category
    (that category's texts vs the source's non-toxic texts)."""
    labels = np.asarray(labels)
    names = [s for s in sorted(set(sources.tolist())) if len(np.unique(labels[sources == s])) == 2]
    rows: list[dict[str, Any]] = []
    if len(set(sources.tolist())) < 2:
        return rows
    for held_out in names:
        if stage:
            stage(f"leave-one-source-out: testing on {held_out}")
        train_idx = np.flatnonzero(sources != held_out)
        if len(np.unique(labels[train_idx])) < 2:
            continue
        predict = fit([features_texts[i] for i in train_idx], labels[train_idx], sources=sources[train_idx])
        test_idx = np.flatnonzero(sources == held_out)
        scores = predict([features_texts[i] for i in test_idx])
        metrics = toxicity_metrics(labels[test_idx], scores)
        per_category: dict[str, Any] = {}
        negatives = labels[test_idx] == 0
        for category in sorted({c for i in test_idx for c in categories[i]}):
            members = np.array([category in categories[i] for i in test_idx], dtype=bool)
            mask = members | negatives
            per_category[category] = toxicity_metrics(labels[test_idx][mask], scores[mask])
        rows.append({"test": held_out, "train": sorted(set(sources[train_idx].tolist())),
                     "auroc": metrics.get("auroc"), "tpr_at_5pct_fpr": metrics.get("tpr_at_5pct_fpr"),
                     "n_test": int(test_idx.size), "per_category": per_category})
    return rows
