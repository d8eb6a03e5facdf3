"""Retrain a bundle on base data plus reviewer labels, and record how it compares with the active bundle.

The candidate is trained on the base rows and the reviewed rows that are not held back; the held-back reviewed
items and the base data's leave-one-domain-out split are the comparison (``detect.review_data``), written into
the new bundle's card under ``retrain`` so ``provenance detect promote`` can decide without retraining.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from detect.bundle import Bundle, ScorerIdentity, build_card, short_text_hash
from detect.cache import StatisticsCache
from detect.data import LabelledText, fingerprint
from detect.ensemble import AbstainPolicy, train_ensemble
from detect.errors import DetectionError
from detect.perplexity import PerplexityScorer
from detect.review_data import (
    held_back_mask,
    judged_metrics,
    leave_one_domain_out,
    merge_rows,
    promotion_checks,
)
from detect.training import PreparedData, cv_metrics, human_reference, score_rows


def retrain_bundle(name: str, scorer: PerplexityScorer, base: PreparedData, reviewed: Sequence[LabelledText],
                   active: Bundle, *, active_version: str, base_paths: Sequence[str], cache: StatisticsCache | None,
                   target_fpr: float = 0.01, seed: int = 0, progress: Callable[[int], None] | None = None,
                   stage: Callable[[str], None] | None = None) -> Bundle:
    """The candidate bundle (not saved), its card carrying the comparison with ``active``."""
    rows, is_reviewed = merge_rows(base.rows, reviewed)
    if stage:
        stage(f"scoring {len(rows)} texts ({int(is_reviewed.sum())} reviewed)")
    items = score_rows(scorer, rows, cache, progress)
    policy = AbstainPolicy()
    judged = np.array([policy.reason(item) is None for item in items])
    if not (judged & is_reviewed).any():
        raise DetectionError("every reviewed text is too short to judge",
                             hint=f"texts need at least {policy.min_words} words and {policy.min_tokens} tokens")
    labels = np.array([row.label for row in rows], dtype=np.int64)
    groups = np.array([row.group for row in rows])
    domains = np.array([row.domain for row in rows])
    held = held_back_mask(rows, is_reviewed)
    train = np.flatnonzero(judged & ~held)
    if len(train) < 20 or len(np.unique(labels[train])) < 2:
        raise DetectionError(f"only {len(train)} judged training texts (both classes needed, at least 20)",
                             hint="pass more base data with --base")
    if stage:
        stage(f"training the candidate on {len(train)} texts")
    stacker = getattr(active.ensemble, "stacker", "logit")  # the active bundle's recipe, so only the data changes
    result = train_ensemble([items[i] for i in train], labels[train], groups[train], domains[train],
                            target_fpr=target_fpr, seed=seed, abstain=policy, progress=stage, stacker=stacker)
    candidate = result.ensemble
    compare = np.flatnonzero(held & is_reviewed & judged)
    compare_items = [items[i] for i in compare]
    reviewed_cmp = {"n": len(compare),
                    "active": judged_metrics(active.ensemble, compare_items, labels[compare], seed),
                    "candidate": judged_metrics(candidate, compare_items, labels[compare], seed)}
    base_mask = judged & ~is_reviewed
    extra = judged & is_reviewed & ~held
    if stage:
        stage("base data, leave-one-domain-out (with reviewed items)")
    lodo_candidate = leave_one_domain_out(items, labels, groups, domains, base_mask, extra, target_fpr=target_fpr,
                                          seed=seed, stage=stage, stacker=stacker)
    lodo_active = _active_lodo(active, base.summary()["fingerprint_sha256"])
    if lodo_active is None:
        if stage:
            stage("base data, leave-one-domain-out (active recipe)")
        lodo_active = leave_one_domain_out(items, labels, groups, domains, base_mask, np.zeros_like(extra),
                                           target_fpr=target_fpr, seed=seed, stage=stage, stacker=stacker)
    comparison: dict[str, Any] = {
        "active_version": active_version,
        "reviewed_held_back": reviewed_cmp,
        "base_leave_one_domain_out": {"active": lodo_active, "candidate": lodo_candidate},
        "rule": "held-back reviewed AUROC >= active's; each base domain's left-out AUROC >= the lower end of the "
                "active recipe's 95% interval",
    }
    problems = promotion_checks(comparison)
    comparison["problems"] = problems
    comparison["promotable"] = not problems
    summary = {**base.summary(), "texts_used": len(train), "reviewed": int(is_reviewed.sum()),
               "reviewed_trained": int(extra.sum()), "reviewed_held_back": len(compare),
               "reviewed_fingerprint_sha256": fingerprint(reviewed)}
    card = build_card(name, ScorerIdentity.of(scorer), candidate, data=summary,
                      metrics={"cross_validated": cv_metrics(result), "folds": result.folds,
                               "human_reference": human_reference(result)},
                      training={"target_fpr": target_fpr, "seed": seed,
                                "grouping": "prompt groups + MinHash near-duplicates of reviewed items",
                                "scorer_quantize": scorer.lm.quantized or "none", "stacker": candidate.stacker,
                                "stack_inputs": list(candidate.stack_inputs)})
    card["retrain"] = {"from_reviews": True, "base_paths": list(base_paths),
                       "base_fingerprint_sha256": base.summary()["fingerprint_sha256"], "comparison": comparison}
    hashes = frozenset(short_text_hash(items[i].text) for i in train)
    return Bundle(candidate, card, training_hashes=hashes)


def _active_lodo(active: Bundle, base_fingerprint: str) -> dict[str, Any] | None:
    """The active bundle's own left-out figures, when it was itself retrained on the same base data."""
    retrain = active.card.get("retrain") or {}
    if retrain.get("base_fingerprint_sha256") != base_fingerprint:
        return None
    return ((retrain.get("comparison") or {}).get("base_leave_one_domain_out") or {}).get("candidate")
