"""Statistical honesty: exact p-values, uniform p-values and the nominal false-positive rate on unwatermarked
token sequences, and real de-duplication of repeated n-grams."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from testkit.texts import synthetic_paragraphs
from tests.watermark.support import make_key, random_documents
from watermark import WatermarkDetector, binom_sf
from watermark.stats import binom_logsf, binom_pmf, normal_sf, z_score

ALPHA = 1e-3


def _exact_sf(k: int, n: int, p: float) -> float:
    q = Fraction(p).limit_denominator(1000)  # 1/10 rather than the binary float: same value to 1e-17
    return float(sum(math.comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(max(k, 0), n + 1)))


@pytest.mark.parametrize("n", [1, 7, 16, 50, 200, 731])
@pytest.mark.parametrize("p", [0.25, 0.1, 0.5])
def test_binomial_tail_is_exact(n, p):
    for k in sorted({0, 1, n // 4, n // 3, n // 2, (3 * n) // 4, n, n + 1}):
        exact = _exact_sf(k, n, p)
        assert binom_sf(k, n, p) == pytest.approx(exact, rel=1e-9, abs=1e-300)


def test_binomial_tail_is_stable_far_in_the_tail():
    log_p = binom_logsf(900, 1000, 0.25)
    assert math.isfinite(log_p) and log_p < -900  # would underflow to 0 in linear space
    assert binom_logsf(0, 10, 0.25) == 0.0 and binom_logsf(11, 10, 0.25) == -math.inf
    assert binom_logsf(300_000, 1_200_000, 0.25) == pytest.approx(math.log(0.5), abs=0.01)  # 5 MB-sized texts


def test_threshold_is_the_normal_tail_of_z4():
    assert normal_sf(4.0) == pytest.approx(3.167e-5, rel=1e-3)
    assert z_score(50, 100, 0.25) == pytest.approx(25 / math.sqrt(18.75))


def _randomized_p_values(results, gamma: float, rng: np.random.Generator) -> np.ndarray:
    """Randomised p-values P[X > k] + U * P[X = k] are exactly Uniform(0, 1) under the null, so a KS test can
    check the whole pipeline (green bits, gamma, independence after de-duplication) without the discreteness of
    the ordinary p-value getting in the way."""
    values = []
    for result in results:
        n, k = result.num_tokens_scored, result.num_green
        values.append(binom_sf(k + 1, n, gamma) + rng.random() * binom_pmf(k, n, gamma))
    return np.asarray(values)


def _ks_statistic(samples: np.ndarray) -> float:
    ordered = np.sort(samples)
    n = len(ordered)
    grid = np.arange(1, n + 1) / n
    return float(max((grid - ordered).max(), (ordered - (grid - 1 / n)).max()))


@pytest.mark.parametrize("scheme", ["lefthash", "selfhash"])
def test_p_values_are_uniform_on_unwatermarked_sequences(tokenizer, scheme):
    detector = WatermarkDetector(tokenizer, [make_key(tokenizer, scheme=scheme)])
    documents = random_documents(2000, len(tokenizer), seed=11, low=24)
    results = detector.detect_ids_batch(documents)
    assert not any(r.abstain for r in results)
    randomized = _randomized_p_values(results, 0.25, np.random.default_rng(5))
    statistic = _ks_statistic(randomized)
    assert statistic < 1.63 / math.sqrt(len(randomized)), statistic  # KS critical value at alpha = 0.01
    # the reported (non-randomised) p-values are valid: never below their randomised twin
    reported = np.array([r.p_value for r in results])
    assert (reported >= randomized - 1e-12).all()


@pytest.mark.parametrize("scheme", ["lefthash", "selfhash"])
def test_false_positive_rate_at_alpha_matches_its_exact_level(tokenizer, scheme):
    """20,000 null documents of 100 tokens: the number of p <= 1e-3 is inside the binomial confidence interval
    of the test's exact size (the discrete test has size slightly below alpha) and never above alpha's."""
    detector = WatermarkDetector(tokenizer, [make_key(tokenizer, scheme=scheme)])
    documents = random_documents(20_000, len(tokenizer), seed=12, low=100, high=101)
    results = detector.detect_ids_batch(documents)
    hits = sum(r.p_value <= ALPHA for r in results)
    size_of = {}  # exact probability, under the null, that a test on n scored tokens rejects
    for n in {r.num_tokens_scored for r in results}:
        k_star = next(k for k in range(n + 2) if binom_sf(k, n, 0.25) <= ALPHA)
        size_of[n] = binom_sf(k_star, n, 0.25)
    expected = float(np.mean([size_of[r.num_tokens_scored] for r in results]))
    assert expected <= ALPHA
    count = len(results)
    assert binom_sf(hits, count, expected) > 1e-4 and 1 - binom_sf(hits + 1, count, expected) > 1e-4, \
        (hits, expected * count)
    assert binom_sf(hits, count, ALPHA) > 1e-4  # not significantly above the nominal rate either
    assert not any(r.watermarked for r in results if r.p_value > detector.p_threshold)


def test_repeated_ngrams_are_counted_once(tokenizer):
    detector = WatermarkDetector(tokenizer, [make_key(tokenizer, scheme="lefthash")], min_tokens=1)
    base = np.random.default_rng(3).integers(1, len(tokenizer), size=60)
    once = detector.detect_ids(base)
    repeated = detector.detect_ids(np.tile(base, 20))
    # only n-grams that straddle two copies are new; each copy repeats all the others
    assert repeated.num_tokens_scored <= once.num_tokens_scored + 1
    assert repeated.num_green <= once.num_green + 1
    scored = [i for i, bit in enumerate(repeated.green_mask) if bit is not None]
    assert max(scored) < 2 * len(base)  # nothing in copies 3..20 is scored
    counted_all = WatermarkDetector(tokenizer, [make_key(tokenizer, scheme="lefthash")], min_tokens=1,
                                    ignore_repeated_ngrams=False).detect_ids(np.tile(base, 20))
    assert counted_all.num_tokens_scored == 20 * len(base) - 1


def test_repetitive_human_text_is_not_flagged(tokenizer):
    """Synthetic paragraphs repeat the same few phrases: without de-duplication a slight green excess in a
    phrase would be multiplied by its repetitions."""
    detector = WatermarkDetector(tokenizer, [make_key(tokenizer, scheme="lefthash"), make_key(tokenizer)])
    results = [detector.detect(" ".join(synthetic_paragraphs(12, seed=seed))) for seed in range(40)]
    assert not any(r.watermarked for r in results)
    assert all(r.num_tokens_scored < r.num_tokens for r in results)
