"""Windowed detection: where in a long, mostly human text is the watermarked span (copy-paste attacks)?

Method (a WinMax-style scan with an honest correction): over the sequence of scored green bits, every window of
every size in a geometric set (``min_tokens`` x 1.25^k, plus the whole text) is tested, stride 1, with numpy
cumulative sums - O(n x #sizes). The smallest exact binomial p-value wins and is multiplied by the number of
windows tested (Bonferroni; with several keys, by keys x windows). The union bound holds whatever the overlap
between windows, so the corrected p-value is a valid p-value for "no window is watermarked"; it is
conservative (overlapping windows are positively correlated), which costs a few orders of magnitude of raw p
but never a false alarm rate above alpha. Further spans are reported greedily among windows that do not
overlap the ones already found, while they stay significant.

The grid of sizes means a tested window rarely coincides with the pasted span, so the reported boundaries are
refined afterwards: inside the window and one window length on either side, the maximum-scoring segment under
per-token log-likelihood-ratio weights (green: log(f/gamma), red: log((1-f)/(1-gamma)), f the window's green
fraction) is taken - a Kadane scan on cumulative sums. The refinement only moves the highlighted boundaries;
the p-value stays that of the tested window, which is what the correction covers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from watermark.stats import binom_logsf

GROWTH = 1.25


def window_sizes(num_scored: int, min_tokens: int, growth: float = GROWTH) -> list[int]:
    """Geometric window sizes from ``min_tokens`` up to ``num_scored``, which is always included."""
    if num_scored < min_tokens:
        return []
    sizes: set[int] = {num_scored}
    size = float(min_tokens)
    while size < num_scored:
        sizes.add(int(round(size)))
        size *= growth
    return sorted(sizes)


def windows_tested(num_scored: int, sizes: list[int]) -> int:
    return sum(num_scored - w + 1 for w in sizes if w <= num_scored)


@dataclass(frozen=True)
class WindowHit:
    """A window over scored-token indices ``[start, start + size)``."""

    start: int
    size: int
    green: int
    log_p: float  # natural log of the raw binomial p-value

    def corrected_p(self, tests: int) -> float:
        return min(1.0, math.exp(min(0.0, self.log_p + math.log(tests))))


def scan(green_bits: np.ndarray, gamma: float, sizes: list[int], max_spans: int,
         stop_log_p: float) -> list[WindowHit]:
    """The most significant window, then further non-overlapping windows while ``log_p < stop_log_p``."""
    bits = np.asarray(green_bits, dtype=np.int64)
    total = len(bits)
    sizes = [w for w in sizes if 0 < w <= total]
    if not sizes:
        return []
    cumulative = np.concatenate(([0], np.cumsum(bits)))
    counts = {w: cumulative[w:] - cumulative[:-w] for w in sizes}
    allowed = {w: np.ones(total - w + 1, dtype=bool) for w in sizes}
    hits: list[WindowHit] = []
    while len(hits) < max_spans:
        best: WindowHit | None = None
        for w in sizes:
            candidates = np.where(allowed[w], counts[w], -1)
            start = int(candidates.argmax())
            if candidates[start] < 0:
                continue
            log_p = binom_logsf(int(candidates[start]), w, gamma)
            if best is None or log_p < best.log_p:
                best = WindowHit(start, w, int(candidates[start]), log_p)
        if best is None or (hits and best.log_p >= stop_log_p):
            break
        hits.append(best)
        for w in sizes:  # windows overlapping [best.start, best.start + best.size) are no longer candidates
            low = max(0, best.start - w + 1)
            high = min(total - w, best.start + best.size - 1)
            if high >= low:
                allowed[w][low:high + 1] = False
    return hits


def refine(green_bits: np.ndarray, hit: WindowHit, gamma: float) -> tuple[int, int]:
    """Boundaries ``[start, end)`` (scored-token indices) of the maximum log-likelihood-ratio segment around
    ``hit``."""
    total = len(green_bits)
    fraction = min(max(hit.green / hit.size, gamma + 1e-3), 1 - 1e-3)
    low, high = max(0, hit.start - hit.size), min(total, hit.start + 2 * hit.size)
    bits = np.asarray(green_bits[low:high], dtype=bool)
    weights = np.where(bits, math.log(fraction / gamma), math.log((1 - fraction) / (1 - gamma)))
    cumulative = np.concatenate(([0.0], np.cumsum(weights)))
    running_min = np.minimum.accumulate(cumulative)
    end = int(np.argmax(cumulative - running_min))  # segment ends after token end-1
    start = int(np.flatnonzero(cumulative[: end + 1] == running_min[end])[-1])
    if end <= start:
        return hit.start, hit.start + hit.size
    return low + start, low + end
