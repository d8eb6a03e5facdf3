"""From labelled files to a saved detector bundle: read, de-duplicate, group, score, train, card.

Duplicate texts (the same human passage listed once per generator file) are kept once, so no text is
counted twice in training or in the cross-validated metrics. ``max_texts`` samples a subset stratified by
(domain, generator, label) for quick bundles (the demo), with a fixed seed.
"""

from __future__ import annotations

import hashlib
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
from detect.ensemble import DEFAULT_STACKER, MIN_DOMAIN_HUMANS, AbstainPolicy, TrainingResult, train_ensemble
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


# Long training texts are cut to a length drawn between these bounds (characters, at a word boundary; issue 25):
# scoring a 5,000-character web page costs five short ones, and a bundle that saw every machine text at full
# length and every human text short (or the reverse) learns length. Texts at or under CUT_ABOVE_CHARS are kept.
CUT_ABOVE_CHARS = 2000
CUT_TO_MIN_CHARS = 400


def cut_length(text: str, *, above: int = CUT_ABOVE_CHARS, least: int = CUT_TO_MIN_CHARS) -> str:
    """``text`` cut at a word boundary to a length in [least, above], fixed by the text's hash (so a text is cut
    the same way in every run and process), or unchanged when it is not longer than ``above``."""
    if len(text) <= above:
        return text
    digest = int(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8], 16)
    piece = text[: least + digest % (above - least + 1)]
    space = piece.rfind(" ")
    return piece[:space] if space > least // 2 else piece


def prepare(paths: Sequence[Path], *, max_texts: int | None = None, seed: int = 0,
            cut_above: int | None = CUT_ABOVE_CHARS) -> PreparedData:
    """Read, normalise, de-duplicate, cut long texts (``cut_length``; None keeps them whole), group and sample.

    ``max_texts`` keeps a stratified sample that still holds ``MIN_DOMAIN_HUMANS`` human texts per domain where
    the data has them, so the per-domain false-positive checks run on the sample too."""
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
        if cut_above is not None:
            text = cut_length(text, above=cut_above)
        rows.append(LabelledText(text, row.label, row.domain, row.generator, row.source, row.pair))
    rows = assign_groups(rows)
    if max_texts is not None and len(rows) > max_texts:
        rows = _stratified_sample(rows, max_texts, seed)
    if len({row.label for row in rows}) < 2:
        raise DetectionError("training data needs both human and machine texts",
                             hint='label rows "human" or "machine" (or 0/1)')
    return PreparedData(rows, rejected, duplicates)


def _stratified_sample(rows: list[LabelledText], limit: int, seed: int) -> list[LabelledText]:
    """Texts sampled round-robin across domains and their (generator, label) strata, after the human texts every domain
    needs for its own false-positive check (``MIN_DOMAIN_HUMANS``, where the data has them).

    Single texts, not whole prompt groups, are drawn: a group of the labelled data can hold a human passage and
    five machine continuations of it, and whole groups used up the sample on the first domains. Groups stay
    intact for cross-validation all the same (a subset of a group is still one group). Original order is kept."""
    strata: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        strata[(row.domain, row.generator, row.label)].append(i)
    rng = random.Random(seed)
    for members in strata.values():
        rng.shuffle(members)
    chosen: set[int] = set()
    humans_by_domain: dict[str, list[int]] = defaultdict(list)
    for (domain, _, label), members in sorted(strata.items()):
        if label == 0:
            humans_by_domain[domain].extend(members)
    domains = sorted(humans_by_domain)
    for domain in domains:
        quota = min(MIN_DOMAIN_HUMANS, len(humans_by_domain[domain]), max(limit // (2 * len(domains)), 1))
        chosen.update(humans_by_domain[domain][:quota])
    # Round-robin over domains, and within a domain over its strata: a domain with five generator files and
    # one with four get the same share, so no data set outweighs another by how finely it is split.
    by_domain: dict[str, list[list[int]]] = defaultdict(list)
    for (domain, _, _), members in sorted(strata.items()):
        by_domain[domain].append([i for i in members if i not in chosen])
    turn = dict.fromkeys(by_domain, 0)
    while len(chosen) < limit and any(any(queues) for queues in by_domain.values()):
        for domain, queues in by_domain.items():
            for _ in range(len(queues)):
                queue = queues[turn[domain] % len(queues)]
                turn[domain] += 1
                if queue:
                    if len(chosen) < limit:
                        chosen.add(queue.pop())
                    break
    return [row for i, row in enumerate(rows) if i in chosen]


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


HUMAN_REFERENCE_QUANTILES = (5, 25, 50, 75, 95)


def human_reference(result: TrainingResult) -> dict[str, Any]:
    """Per detector statistic, where the training *human* texts fall (out-of-fold for the trained margins):
    percentiles of the signed score (higher = more machine-like, as stored with every verdict) and their
    count. The reviewer's item page scales a verdict's scores against this range, so "fast_detectgpt 0.79"
    reads as "far above typical human text" instead of a bare number on its own scale."""
    humans = np.asarray(result.labels) == 0
    reference: dict[str, Any] = {}
    for name, scores in result.oof_scores.items():
        if name == "ensemble":
            continue
        values = np.asarray(scores, dtype=np.float64)[humans]
        values = values[np.isfinite(values)]
        if values.size < 2:
            continue
        points = np.percentile(values, HUMAN_REFERENCE_QUANTILES)
        reference[name] = {"n": int(values.size),
                           **{f"p{q}": round(float(v), 6) for q, v in zip(HUMAN_REFERENCE_QUANTILES, points,
                                                                         strict=True)}}
    return reference


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
                      metrics={"cross_validated": cv_metrics(result), "folds": result.folds,
                               "human_reference": human_reference(result)},
                      training={"target_fpr": target_fpr, "seed": seed, "grouping": "prompt groups",
                                "scorer_quantize": scorer.lm.quantized or "none",
                                "stacker": result.ensemble.stacker,
                                "stack_inputs": list(result.ensemble.stack_inputs),
                                "sampled_text": sampled_text})
    hashes = frozenset(short_text_hash(item.text) for item in items)
    return Bundle(result.ensemble, card, training_hashes=hashes)
