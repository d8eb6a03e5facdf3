"""Reviewer labels as training data: grouping, held-back items, and the comparison that gates promotion.

Reviewed documents come from the team's own domain, the one the shipped bundle never saw, so they are the most
valuable labels there are and the easiest to leak: a reviewed text, or an edited copy of it, must never sit in
the validation fold that judges a model trained on it. Groups therefore join the prompt groups of
``detect.data.assign_groups`` with MinHash near-duplicates (``generator.stamping.minhash``, the ledger's own
fingerprint), and about a quarter of the reviewed groups (by a hash of their text, so the choice never changes as
reviews accumulate) is held back from training so the candidate and the active bundle are compared on labels
neither was trained on.

The comparison has two parts (both recorded in the new bundle's card):
* held-back reviewed items: AUROC of the active bundle and of the candidate, with bootstrap intervals;
* the base data's leave-one-domain-out split, retrained with and without the reviewed items on the training
  side, so adding reviewer labels can be seen not to break the domains the bundle already handled.
A candidate is promotable when its held-back AUROC is at least the active bundle's and, on every base domain,
its left-out AUROC is not below the lower end of the active recipe's 95% interval.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from detect.classifier import ScoredText
from detect.data import LabelledText, assign_groups
from detect.ensemble import TrainedEnsemble, train_ensemble
from detect.errors import DetectionError
from detect.metrics import metrics_with_ci, verdict_rates
from detect.text import normalize_for_detection

REVIEW_DOMAIN = "reviewed"
REVIEW_GENERATOR = "review"
NEAR_DUPLICATE_JACCARD = 0.5  # the ledger's own match threshold (provenance.signals.provenance)
LSH_ROWS = 4  # MinHash values per LSH band: 32 bands of 4 find pairs with Jaccard >= 0.5 almost surely
HOLD_BACK_SHARE = 0.25
REPLICATES = 200


def reviewed_rows(records: Sequence[dict[str, Any]]) -> list[LabelledText]:
    """``provenance reviews export`` records (text kept) as labelled rows; ``pair`` names the document so
    two decisions on one document can never be split apart."""
    rows = []
    for record in records:
        label = {"machine": 1, "human": 0}.get(record.get("label"))
        if label is None or not isinstance(record.get("text"), str):
            continue
        rows.append(LabelledText(normalize_for_detection(record["text"]), label,
                                 str(record.get("domain") or REVIEW_DOMAIN), REVIEW_GENERATOR,
                                 f"decision {record.get('decision_id')}",
                                 f"review#{record.get('document_id', record.get('decision_id'))}"))
    return rows


def check_reviewed(rows: Sequence[LabelledText]) -> None:
    """No reviewed items, or only one class: nothing to learn a boundary from."""
    if not rows:
        raise DetectionError("no reviewed items with a machine or human decision and kept text",
                             hint="review items in the dashboard (decide machine or human), with "
                                  "PROVENANCE_STORE_RAW_TEXT=1 while scanning; check with provenance reviews export")
    labels = {row.label for row in rows}
    if len(labels) < 2:
        only = "machine" if labels == {1} else "human"
        raise DetectionError(f"all {len(rows)} reviewed items were decided {only}: a retrain needs both classes",
                             hint="review items the model judged the other way too (queue ordering uncertainty)")


def merge_rows(base: Sequence[LabelledText], reviewed: Sequence[LabelledText]) -> tuple[list[LabelledText], np.ndarray]:
    """Base rows plus reviewed rows (a reviewed text replaces an identical base text), grouped; returns the
    rows and a mask of the reviewed ones."""
    reviewed_texts = {row.text for row in reviewed}
    rows = [row for row in base if row.text not in reviewed_texts] + list(reviewed)
    grouped = near_duplicate_groups(assign_groups(rows), focus=range(len(rows) - len(reviewed), len(rows)))
    is_reviewed = np.zeros(len(grouped), dtype=bool)
    is_reviewed[len(grouped) - len(reviewed):] = True
    return grouped, is_reviewed


def near_duplicate_groups(rows: Sequence[LabelledText], focus: Sequence[int] | range) -> list[LabelledText]:
    """Merge the group of each ``focus`` row with the groups of its MinHash near-duplicates (any row)."""
    from generator.stamping import estimated_jaccard, minhash

    focus = set(focus)
    if not focus:
        return list(rows)
    signatures = [minhash(row.text) for row in rows]
    buckets: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for i, signature in enumerate(signatures):
        for band in range(0, len(signature), LSH_ROWS):
            buckets[(band, tuple(signature[band:band + LSH_ROWS]))].append(i)
    parent = {row.group: row.group for row in rows}

    def find(group: int) -> int:
        while parent[group] != group:
            parent[group] = parent[parent[group]]
            group = parent[group]
        return group

    checked: set[tuple[int, int]] = set()
    for members in buckets.values():
        if len(members) < 2 or not focus.intersection(members):
            continue
        for i in members:
            for j in members:
                pair = (min(i, j), max(i, j))
                if i == j or (i not in focus and j not in focus) or pair in checked:
                    continue
                checked.add(pair)
                if estimated_jaccard(signatures[i], signatures[j]) >= NEAR_DUPLICATE_JACCARD:
                    a, b = find(rows[i].group), find(rows[j].group)
                    if a != b:
                        parent[b] = a
    return [LabelledText(row.text, row.label, row.domain, row.generator, row.source, row.pair, find(row.group))
            for row in rows]


def held_back_mask(rows: Sequence[LabelledText], is_reviewed: np.ndarray, share: float = HOLD_BACK_SHARE) -> np.ndarray:
    """Reviewed *groups* whose text hash falls below ``share`` are held back (at least one group per label when a
    label has two or more). The test depends on the group's own texts only, so a group held back once stays held
    back as reviews accumulate: an item the active bundle was trained on never becomes a comparison item."""
    by_label: dict[int, dict[int, float]] = defaultdict(dict)
    for i in np.flatnonzero(is_reviewed):
        row = rows[i]
        draw = int(hashlib.sha256(row.text.encode("utf-8", "surrogatepass")).hexdigest()[:12], 16) / 16 ** 12
        by_label[row.label][row.group] = min(draw, by_label[row.label].get(row.group, draw))
    chosen: set[int] = set()
    for groups in by_label.values():
        below = {group for group, draw in groups.items() if draw < share}
        if not below and len(groups) >= 2:
            below = {min(groups, key=groups.get)}
        chosen.update(below)
    # a group that holds reviewed items is held back whole, base rows of it included
    return np.array([row.group in chosen for row in rows])


def judged_metrics(ensemble: TrainedEnsemble, items: Sequence[ScoredText], labels: np.ndarray,
                   seed: int = 0) -> dict[str, Any]:
    """AUROC (and FPR at the bundle's threshold) with intervals over the texts the bundle judges."""
    keep = [i for i, item in enumerate(items) if ensemble.abstain.reason(item) is None]
    y = np.asarray(labels)[keep]
    if len(np.unique(y)) < 2:
        return {"n_human": int((y == 0).sum()), "n_machine": int((y == 1).sum()),
                "error": "needs both human and machine texts"}
    p = ensemble.probabilities([items[i] for i in keep])
    verdicts = ensemble.judge([items[i] for i in keep])
    result = metrics_with_ci(y, p, ensemble.thresholds.machine, replicates=REPLICATES, seed=seed)
    result.update({key: round(value, 4) for key, value in verdict_rates(y, [v.verdict for v in verdicts]).items()})
    return result


def leave_one_domain_out(items: Sequence[ScoredText], labels: np.ndarray, groups: np.ndarray, domains: np.ndarray,
                         base: np.ndarray, extra: np.ndarray, *, target_fpr: float, seed: int = 0,
                         stage: Callable[[str], None] | None = None, stacker: str = "logit") -> dict[str, Any]:
    """Per base domain: train on the other base domains (plus the ``extra`` rows), test on that domain.

    Rows sharing a group with the test domain never train; ``extra`` rows (reviewed items) only ever train.
    Returns the ensemble's metrics with intervals per domain (empty with fewer than two base domains)."""
    labels, groups, domains = np.asarray(labels), np.asarray(groups), np.asarray(domains)
    base_domains = sorted(set(domains[base].tolist()))
    if len(base_domains) < 2:
        return {}
    table: dict[str, Any] = {}
    for domain in base_domains:
        test = np.flatnonzero(base & (domains == domain))
        banned = np.isin(groups, groups[test])
        train = np.flatnonzero(((base & (domains != domain)) | extra) & ~banned)
        if len(np.unique(labels[train])) < 2 or len(np.unique(labels[test])) < 2:
            table[domain] = {"error": "needs human and machine texts on both sides"}
            continue
        if stage is not None:
            stage(f"left-out domain {domain}: train {len(train)}, test {len(test)}")
        result = train_ensemble([items[i] for i in train], labels[train], groups[train], domains[train],
                                target_fpr=target_fpr, n_splits=3, seed=seed, stacker=stacker)
        table[domain] = judged_metrics(result.ensemble, [items[i] for i in test], labels[test], seed)
    return table


def promotion_checks(comparison: dict[str, Any]) -> list[str]:
    """Why the candidate may not be promoted (empty: it is at least as good on both parts)."""
    problems = []
    reviewed = comparison.get("reviewed_held_back") or {}
    active, candidate = reviewed.get("active") or {}, reviewed.get("candidate") or {}
    if "auroc" not in active or "auroc" not in candidate:
        problems.append("held-back reviewed items: no AUROC (they need both machine and human decisions)")
    elif candidate["auroc"] < active["auroc"]:
        problems.append(f"held-back reviewed items: AUROC {candidate['auroc']:.4f} < active {active['auroc']:.4f}")
    lodo = comparison.get("base_leave_one_domain_out") or {}
    for domain, row in (lodo.get("candidate") or {}).items():
        before = (lodo.get("active") or {}).get(domain) or {}
        if "auroc" not in row or "auroc" not in before:
            continue
        low = before.get("auroc_ci95", [before["auroc"]])[0]
        if row["auroc"] < low:
            problems.append(f"base domain {domain} left out: AUROC {row['auroc']:.4f} < {low:.4f}, the lower end "
                            f"of the active recipe's 95% interval (AUROC {before['auroc']:.4f})")
    return problems


def uncertainty_order(p_machine: np.ndarray, *, random_share: float = 0.2, seed: int = 0) -> np.ndarray:
    """Indices in asking order: closest to P(machine) = 0.5 first, every ``1/random_share``-th pick drawn at
    random from the rest instead, so the labels stay representative of the whole queue."""
    p = np.asarray(p_machine, dtype=np.float64)
    by_doubt = list(np.argsort(np.abs(np.nan_to_num(p, nan=2.0) - 0.5), kind="stable"))
    rng = np.random.default_rng(seed)
    every = int(round(1 / random_share)) if random_share > 0 else 0
    taken: set[int] = set()
    order: list[int] = []
    cursor = 0
    while len(order) < len(p):
        if every and len(order) % every == every - 1:
            left = [i for i in range(len(p)) if i not in taken]
            pick = int(rng.choice(left))
        else:
            while by_doubt[cursor] in taken:
                cursor += 1
            pick = int(by_doubt[cursor])
        taken.add(pick)
        order.append(pick)
    return np.array(order, dtype=np.int64)
