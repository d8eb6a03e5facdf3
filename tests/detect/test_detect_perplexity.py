"""Batched single-pass statistics agree with a plain one-text-at-a-time reference to 1e-4."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from detect.perplexity import STATISTICS, PerplexityScorer, aggregate
from testkit.texts import synthetic_paragraphs


def reference_token_arrays(lm, text: str, max_length: int, stride: int) -> dict[str, np.ndarray]:
    """The textbook strided loop (Hugging Face's perplexity guide), one text at a time, float64 maths."""
    ids = [lm.tokenizer.eos_token_id, *lm.tokenizer(text, add_special_tokens=False)["input_ids"]]
    out: dict[str, list[float]] = {"ll": [], "rank": [], "entropy": [], "variance": []}
    prev_end = 1  # ids[0] is the BOS token
    for begin in range(0, len(ids), stride):
        end = min(begin + max_length, len(ids))
        with torch.no_grad():
            logits = lm.model(input_ids=torch.tensor([ids[begin:end]])).logits[0].double()
        log_probs = torch.log_softmax(logits, dim=-1)
        for target in range(prev_end, end):
            row = log_probs[target - begin - 1]
            token = ids[target]
            p = row.exp()
            mean = float((p * row).sum())
            out["ll"].append(float(row[token]))
            out["rank"].append(int((row > row[token]).sum()) + 1)
            out["entropy"].append(-mean)
            out["variance"].append(float((p * row * row).sum()) - mean * mean)
        prev_end = max(prev_end, end)
        if end == len(ids):
            break
    return {key: np.array(values) for key, values in out.items()}


@pytest.fixture(scope="module")
def texts() -> list[str]:
    paragraphs = synthetic_paragraphs(12, seed=5)
    long_text = " ".join(synthetic_paragraphs(10, seed=9))  # several micro contexts long
    return [paragraphs[0], "Short one.", paragraphs[3] + " " + paragraphs[4], long_text, *paragraphs[5:9]]


def test_batched_token_scores_match_reference(micro_model, texts: list[str]) -> None:
    scorer = PerplexityScorer(micro_model, batch_tokens=256, head_chunk=37)
    batched = scorer.token_scores(texts)
    context = micro_model.context_length
    assert len(micro_model.tokenizer(texts[3])["input_ids"]) > 3 * context  # the sliding window is exercised
    for text, scores in zip(texts, batched, strict=True):
        ref = reference_token_arrays(micro_model, text, context, context // 2)
        assert scores.log_likelihood.size == ref["ll"].size == len(micro_model.tokenizer(text)["input_ids"])
        np.testing.assert_allclose(scores.log_likelihood, ref["ll"], atol=1e-4)
        np.testing.assert_allclose(scores.entropy, ref["entropy"], atol=1e-4)
        np.testing.assert_allclose(scores.variance, ref["variance"], atol=1e-4)
        # Ranks compare floats: allow a rank to differ only where two candidates tie to 1e-5.
        assert (scores.rank == ref["rank"]).mean() > 0.99


def test_statistics_do_not_depend_on_batching(micro_model, texts: list[str]) -> None:
    one_by_one = [PerplexityScorer(micro_model).statistics([text])[0] for text in texts]
    batched = PerplexityScorer(micro_model, batch_tokens=128).statistics(texts)
    for single, packed in zip(one_by_one, batched, strict=True):
        for name in STATISTICS:
            a, b = getattr(single, name), getattr(packed, name)
            assert (math.isnan(a) and math.isnan(b)) or abs(a - b) < 1e-4, name


def test_fast_detectgpt_formula(micro_model, texts: list[str]) -> None:
    """D = (sum log q(x_t) - sum mu_t) / sqrt(sum var_t), mu_t = -entropy_t."""
    scores = PerplexityScorer(micro_model).token_scores([texts[0]])[0]
    stats = aggregate(scores, texts[0])
    ll, entropy, variance = (a.astype(np.float64) for a in (scores.log_likelihood, scores.entropy, scores.variance))
    expected = (ll.sum() + entropy.sum()) / math.sqrt(variance.sum())
    assert stats.fast_detectgpt == pytest.approx(expected, rel=1e-9)
    assert 0.0 <= stats.gltr_top10 <= stats.gltr_top100 <= stats.gltr_top1000 <= 1.0
    assert stats.lrr == pytest.approx(-stats.log_likelihood / stats.log_rank)


def test_truncation_is_reported(micro_model) -> None:
    text = " ".join(synthetic_paragraphs(40, seed=1))
    scorer = PerplexityScorer(micro_model, max_text_tokens=100)
    (stats,) = scorer.statistics([text])
    assert stats.truncated and stats.tokens == 100


def test_empty_text_scores_as_missing_not_as_zero(micro_model, texts: list[str]) -> None:
    stats = PerplexityScorer(micro_model).statistics(["", *texts])
    assert len(stats) == len(texts) + 1
    assert stats[0].tokens == 0 and math.isnan(stats[0].fast_detectgpt)
    assert all(s.tokens > 0 and math.isfinite(s.fast_detectgpt) for s in stats[1:])
