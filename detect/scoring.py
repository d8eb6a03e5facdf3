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
from detect.memorisation import MemorisationGuard
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

    ``guard`` keeps text the scorer was trained on from a ``machine`` verdict (``detect.memorisation``);
    without one, only the model-free signal (long runs of near-certain tokens) is applied."""
    bounded = [bounded_text(text, scorer.max_text_tokens) for text in texts]
    normalised = [text for text, _ in bounded]
    needs_states = getattr(bundle.ensemble, "probe", None) is not None
    stats, states = cached_statistics_and_states(scorer, normalised, cache, progress, states=needs_states)
    stats = [_mark_cut(stat, cut) for stat, (_, cut) in zip(stats, bounded, strict=True)]
    items = [ScoredText(text, stat, None if states is None else states[i])
             for i, (text, stat) in enumerate(zip(normalised, stats, strict=True))]
    guard = guard or MemorisationGuard()
    return [guard.apply(verdict, item.text, item.stats.certain_run)
            for verdict, item in zip(bundle.ensemble.judge(items), items, strict=True)]


def _mark_cut(stats: PerplexityStats, cut: bool) -> PerplexityStats:
    if not cut or stats.truncated:
        return stats
    values = stats.as_dict()
    values["truncated"] = True
    return PerplexityStats(**values)
