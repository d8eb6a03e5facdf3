"""Test statistics: the exact one-sided binomial p-value, the z-score, and the normal tail.

Under the null hypothesis (text written without the key) every scored, de-duplicated n-gram is green with
probability gamma independently, so the green count is Binomial(n, gamma) and ``P[X >= green]`` is an exact
p-value. The normal approximation (the z-test of the paper) is anti-conservative for short texts; the exact tail
is what decides. It is summed in log space from the pmf recurrence (no scipy), truncated 40 standard deviations
past the mode where the remaining terms are below 1e-300 of the sum.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

_TAIL_SIGMAS = 40.0


def normal_sf(z: float) -> float:
    """One-sided upper tail of the standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def z_score(green: int, n: int, gamma: float) -> float:
    return (green - gamma * n) / math.sqrt(n * gamma * (1.0 - gamma))


def _log_pmf(k: int, n: int, p: float) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p))


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + math.log(float(np.exp(values - top).sum()))


def _log_terms_upward(k: int, stop: int, n: int, p: float) -> np.ndarray:
    """log pmf(j) for j = k..stop via pmf(j+1)/pmf(j) = (n-j)/(j+1) * p/(1-p)."""
    j = np.arange(k, stop, dtype=np.float64)
    steps = np.log((n - j) / (j + 1.0)) + math.log(p / (1.0 - p))
    return _log_pmf(k, n, p) + np.concatenate(([0.0], np.cumsum(steps)))


@lru_cache(maxsize=1 << 16)
def binom_logsf(k: int, n: int, p: float) -> float:
    """Natural log of P[X >= k] for X ~ Binomial(n, p); stable far into the tail (no underflow to -inf).

    Memoised: bulk scoring of similar-length documents asks for the same (k, n) over and over."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if k <= 0:
        return 0.0
    if k > n:
        return -math.inf
    mean = n * p
    spread = _TAIL_SIGMAS * math.sqrt(n * p * (1.0 - p)) + 10.0
    if k >= mean:
        stop = min(n, int(math.ceil(max(k, mean) + spread)))
        return _logsumexp(_log_terms_upward(k, stop, n, p))
    # Left of the mean the tail is >= ~1/2: compute the lower tail P[X <= k-1] and take the complement.
    start = max(0, int(math.floor(k - 1 - spread)))
    lower = _logsumexp(_log_terms_upward(start, k - 1, n, p))
    return math.log1p(-min(math.exp(lower), 1.0)) if lower < 0 else -math.inf


def binom_sf(k: int, n: int, p: float) -> float:
    """P[X >= k] for X ~ Binomial(n, p): the exact one-sided p-value of observing k green tokens of n."""
    return math.exp(binom_logsf(k, n, p))


def binom_pmf(k: int, n: int, p: float) -> float:
    if k < 0 or k > n:
        return 0.0
    return math.exp(_log_pmf(k, n, p))


def min_decidable_tokens(gamma: float, alpha: float) -> int:
    """Fewest scored tokens ``n`` for which some outcome is significant at ``alpha``: the best outcome (all ``n``
    green) has p-value ``gamma ** n``, so ``n`` is the smallest integer with ``gamma ** n < alpha``."""
    if not 0.0 < gamma < 1.0:
        raise ValueError("gamma must be in (0, 1)")
    if not 0.0 < alpha <= 1.0:
        raise ValueError("alpha must be in (0, 1]")
    n = max(1, math.floor(math.log(alpha) / math.log(gamma)) + 1)
    while n > 1 and gamma ** (n - 1) < alpha:  # guard the float division at exact powers
        n -= 1
    return n
