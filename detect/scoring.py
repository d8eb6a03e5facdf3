"""Judging texts end to end: normalise, bound the length, score with the LM, apply the ensemble.

This is the library entry point the CLI, the pipeline and the API share. Texts far longer than the
scorer's window are cut (before any feature is computed) to ``max_chars`` characters, and the verdict
says so: a 5 MB text costs the same as a long article, never minutes of feature extraction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from detect.bundle import Bundle
from detect.cache import StatisticsCache, cached_statistics_and_states
from detect.classifier import ScoredText
from detect.ensemble import Verdict
from detect.memorisation import Coverage, MemorisationGuard
from detect.perplexity import PerplexityScorer, PerplexityStats
from detect.text import normalize_for_detection

CHARS_PER_TOKEN_BOUND = 12  # generous: English BPE averages ~4-5 characters per token


def bounded_text(text: str, max_tokens: int) -> tuple[str, bool]:
    limit = max_tokens * CHARS_PER_TOKEN_BOUND
    normalised = normalize_for_detection(text[: limit * 2])
    if len(normalised) > limit:
        return normalised[:limit], True
    return normalised, len(text) > limit * 2


def judge_texts(scorer: PerplexityScorer, bundle: Bundle, texts: Sequence[str], *,
                cache: StatisticsCache | None = None,
                progress: Callable[[int], None] | None = None,
                guard: MemorisationGuard | None = None) -> list[Verdict]:
    """One verdict per text, in order (abstain with a reason where a text cannot be judged).

    ``guard`` keeps text the scorer was trained on from deciding a verdict (``detect.memorisation``): where a
    text's words are largely in the scorer's training-text index, its unseen remainder is scored here, in one
    more batch, and judged by the same ensemble. Without an index only the model-free signal (long runs of
    near-certain tokens) is applied."""
    bounded = [bounded_text(text, scorer.max_text_tokens) for text in texts]
    normalised = [text for text, _ in bounded]
    needs_states = getattr(bundle.ensemble, "probe", None) is not None
    stats, states = cached_statistics_and_states(scorer, normalised, cache, progress, states=needs_states)
    stats = [_mark_cut(stat, cut) for stat, (_, cut) in zip(stats, bounded, strict=True)]
    items = _items(normalised, stats, states)
    guard = guard or MemorisationGuard()
    verdicts = bundle.ensemble.judge(items)
    coverages = [guard.coverage(item.text) if verdict.verdict != "abstain" else None
                 for verdict, item in zip(verdicts, items, strict=True)]
    remainders = _judge_remainders(scorer, bundle, coverages, cache, needs_states)
    return [guard.decide(verdict, coverage, item.stats.certain_run, remainders.get(i))
            for i, (verdict, coverage, item) in enumerate(zip(verdicts, coverages, items, strict=True))]


def _items(texts: Sequence[str], stats: Sequence[PerplexityStats], states) -> list[ScoredText]:
    return [ScoredText(text, stat, None if states is None else states[i])
            for i, (text, stat) in enumerate(zip(texts, stats, strict=True))]


def _judge_remainders(scorer: PerplexityScorer, bundle: Bundle, coverages: Sequence[Coverage | None],
                      cache: StatisticsCache | None, needs_states: bool) -> dict[int, Verdict]:
    """The ensemble's verdict on the unseen remainder of each text the guard set a passage aside in (keyed by
    position; a remainder under the abstain policy's word minimum is not scored). The model-free signal
    applies to a remainder as to any text."""
    policy = getattr(bundle.ensemble, "abstain", None)
    min_words = getattr(policy, "min_words", 1)
    wanted = {i: coverage.remainder for i, coverage in enumerate(coverages)
              if coverage is not None and coverage.triggered and len(coverage.remainder.split()) >= min_words}
    if not wanted:
        return {}
    texts = list(wanted.values())
    stats, states = cached_statistics_and_states(scorer, texts, cache, None, states=needs_states)
    items = _items(texts, stats, states)
    plain = MemorisationGuard()
    return {i: plain.apply(verdict, item.text, item.stats.certain_run)
            for i, verdict, item in zip(wanted, bundle.ensemble.judge(items), items, strict=True)}


def _mark_cut(stats: PerplexityStats, cut: bool) -> PerplexityStats:
    if not cut or stats.truncated:
        return stats
    values = stats.as_dict()
    values["truncated"] = True
    return PerplexityStats(**values)
