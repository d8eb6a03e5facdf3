"""From labelled files to a saved detector bundle: read, de-duplicate, group, score, train, card.

Duplicate texts (the same human passage listed once per generator file) are kept once, so no text is
counted twice in training or in the cross-validated metrics. ``max_texts`` samples a subset stratified by
(domain, generator, label) for quick bundles (the demo), with a fixed seed.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detect.bundle import Bundle, ScorerIdentity, build_card, short_text_hash
from detect.cache import StatisticsCache, cached_statistics_and_states
from detect.classifier import ScoredText
from detect.data import LabelledText, RejectedRow, assign_groups, fingerprint, read_labelled
from detect.ensemble import DEFAULT_STACKER, AbstainPolicy, TrainingResult, train_ensemble
from detect.errors import DetectionError
from detect.metrics import metrics_with_ci
from detect.perplexity import PerplexityScorer
from detect.text import normalize_for_detection


@dataclass
class PreparedData:
    rows: list[LabelledText]  # de-duplicated, normalised text, grouped
    rejected: list[RejectedRow]
    duplicates_dropped: int

    @property
    def labels(self) -> np.ndarray:
        return np.array([row.label for row in self.rows], dtype=np.int64)

    @property
    def groups(self) -> np.ndarray:
        return np.array([row.group for row in self.rows])

    @property
    def domains(self) -> np.ndarray:
        return np.array([row.domain for row in self.rows])

    @property
    def generators(self) -> np.ndarray:
        return np.array([row.generator for row in self.rows])

    def summary(self) -> dict[str, Any]:
        return {
            "texts": len(self.rows),
            "human": int((self.labels == 0).sum()),
            "machine": int((self.labels == 1).sum()),
            "domains": dict(Counter(row.domain for row in self.rows)),
            "generators": dict(Counter(row.generator for row in self.rows if row.label == 1)),
            "groups": int(len(set(self.groups.tolist()))),
            "duplicates_dropped": self.duplicates_dropped,
            "rejected_lines": len(self.rejected),
            "fingerprint_sha256": fingerprint(self.rows),
        }


def prepare(paths: Sequence[Path], *, max_texts: int | None = None, seed: int = 0) -> PreparedData:
    raw, rejected = read_labelled(paths)
    seen: set[str] = set()
    rows: list[LabelledText] = []
    duplicates = 0
    for row in raw:
        text = normalize_for_detection(row.text)
        if text in seen:
            duplicates += 1
            continue
        seen.add(text)
        rows.append(LabelledText(text, row.label, row.domain, row.generator, row.source, row.pair))
    rows = assign_groups(rows)
    if max_texts is not None and len(rows) > max_texts:
        rows = _stratified_sample(rows, max_texts, seed)
    if len({row.label for row in rows}) < 2:
        raise DetectionError("training data needs both human and machine texts",
                             hint='label rows "human" or "machine" (or 0/1)')
    return PreparedData(rows, rejected, duplicates)


def _stratified_sample(rows: list[LabelledText], limit: int, seed: int) -> list[LabelledText]:
    """Whole groups, sampled round-robin across (domain, generator, label) strata."""
    strata: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        strata[(row.domain, row.generator, row.label)].append(i)
    rng = random.Random(seed)
    for members in strata.values():
        rng.shuffle(members)
    chosen_groups: set[int] = set()
    chosen = 0
    queues = [list(members) for _, members in sorted(strata.items())]
    by_group: dict[int, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_group[row.group].append(i)
    while chosen < limit and any(queues):
        for queue in queues:
            if queue and chosen < limit:
                group = rows[queue.pop()].group
                if group not in chosen_groups:
                    chosen_groups.add(group)
                    chosen += len(by_group[group])
    return [row for row in rows if row.group in chosen_groups]


def with_sampled_text(data: PreparedData, lm, *, per_setting: int, new_tokens: int = 160,
                      seed: int = 0, progress: Callable[[int], None] | None = None) -> tuple[PreparedData, dict]:
    """``data`` plus pure and nucleus continuations of its human prefixes by ``lm`` (``detect.sampled``).

    Each setting continues its own ``per_setting`` prefixes (distinct prompt groups), and every continuation
    joins its prefix's group, so cross-validation never splits a prompt from its machine continuation. Returns the
    extended data and the card entry that records how the text was made."""
    from detect.sampled import SAMPLING, prefix_of, sample_continuations

    rng = random.Random(seed)
    humans, seen = [], set()
    for row in rng.sample(data.rows, len(data.rows)):
        if row.label == 0 and row.group not in seen:
            seen.add(row.group)
            humans.append(row)
    if len(humans) < 2 * per_setting:
        raise DetectionError(f"{len(humans)} human prompt groups cannot give {per_setting} distinct prefixes to each "
                             "sampling setting", hint="lower --sampled-per-setting or add human texts")
    added: list[LabelledText] = []
    for offset, setting in enumerate(SAMPLING):
        chosen = humans[offset * per_setting: (offset + 1) * per_setting]
        texts = sample_continuations(lm, [prefix_of(lm.tokenizer, row.text) for row in chosen], setting,
                                     new_tokens=new_tokens, seed=seed, progress=progress)
        added += [LabelledText(normalize_for_detection(sampled.text), 1, row.domain, f"sampled-{setting}",
                               f"sampled:{lm.name}", row.pair, row.group) for row, sampled in zip(chosen, texts,
                                                                                                  strict=True)]
    record = {"model": lm.name, "weights_sha256": lm.weights_sha256, "per_setting": per_setting,
              "new_tokens": new_tokens, "settings": SAMPLING, "seed": seed, "prefix_tokens": 30}
    return PreparedData(data.rows + added, data.rejected, data.duplicates_dropped), record


def score_rows(scorer: PerplexityScorer, rows: Sequence[LabelledText], cache: StatisticsCache | None,
               progress: Callable[[int], None] | None = None) -> list[ScoredText]:
    texts = [row.text for row in rows]
    stats, states = cached_statistics_and_states(scorer, texts, cache, progress)
    return [ScoredText(text, stat, state) for text, stat, state in zip(texts, stats, states, strict=True)]


def cv_metrics(result: TrainingResult) -> dict[str, Any]:
    """Out-of-fold metrics per detector; the ensemble's FPR at its own threshold is in-sample by design."""
    metrics = {}
    for name, scores in result.oof_scores.items():
        threshold = result.ensemble.thresholds.machine if name == "ensemble" else None
        metrics[name] = metrics_with_ci(result.labels, scores, threshold, replicates=100)
    return metrics


def train_bundle(name: str, scorer: PerplexityScorer, data: PreparedData, *, cache: StatisticsCache | None,
                 target_fpr: float = 0.01, seed: int = 0, abstain: AbstainPolicy | None = None,
                 progress: Callable[[int], None] | None = None,
                 stage: Callable[[str], None] | None = None, sampled_text: dict | None = None,
                 stacker: str = DEFAULT_STACKER) -> Bundle:
    """Score, train and describe a bundle (not yet saved; see ``detect.bundle.save_bundle``).

    ``sampled_text``: the record of ``with_sampled_text`` when ``data`` includes platform-written text."""
    if stage:
        stage(f"scoring {len(data.rows)} texts with {scorer.lm.name}")
    items = score_rows(scorer, data.rows, cache, progress)
    policy = abstain or AbstainPolicy()
    keep = [i for i, item in enumerate(items) if policy.reason(item) is None]
    if len(keep) < 20:
        raise DetectionError(f"only {len(keep)} training texts are long enough to judge",
                             hint="training texts need at least "
                                  f"{policy.min_words} words and {policy.min_tokens} tokens")
    items = [items[i] for i in keep]
    labels, groups, domains = data.labels[keep], data.groups[keep], data.domains[keep]
    if stage:
        stage("training classifier, stacker and calibration (group cross-validation)")
    result = train_ensemble(items, labels, groups, domains, target_fpr=target_fpr, seed=seed, abstain=policy,
                            progress=stage, stacker=stacker)
    identity = ScorerIdentity.of(scorer)
    card = build_card(name, identity, result.ensemble, data={**data.summary(), "texts_used": len(keep)},
                      metrics={"cross_validated": cv_metrics(result), "folds": result.folds},
                      training={"target_fpr": target_fpr, "seed": seed, "grouping": "prompt groups",
                                "scorer_quantize": scorer.lm.quantized or "none",
                                "stacker": result.ensemble.stacker,
                                "stack_inputs": list(result.ensemble.stack_inputs),
                                "sampled_text": sampled_text})
    hashes = frozenset(short_text_hash(item.text) for item in items)
    return Bundle(result.ensemble, card, training_hashes=hashes)
