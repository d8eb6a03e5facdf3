"""``hf-lefthash``: transformers' own lefthash green lists, verified with the platform's statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import WatermarkLogitsProcessor as HFWatermarkLogitsProcessor

from generator import SamplingConfig, generate
from tests.watermark.support import quick_tokenizer
from watermark import WatermarkDetector, WatermarkKey
from watermark.hf_compat import HFLefthashGreenlists


@pytest.mark.parametrize("vocab_size, ratio, hashing_key", [(512, 0.25, 15485863), (16384, 0.25, 15485863),
                                                             (50257, 0.5, 42), (1000, 0.1, 2**40 + 7)])
def test_green_lists_match_transformers(vocab_size, ratio, hashing_key):
    theirs = HFWatermarkLogitsProcessor(vocab_size=vocab_size, device="cpu", greenlist_ratio=ratio,
                                        hashing_key=hashing_key, seeding_scheme="lefthash")
    ours = HFLefthashGreenlists(hashing_key, vocab_size, ratio)
    for previous in [0, 1, 2, 17, vocab_size // 2, vocab_size - 1]:
        expected = theirs._get_greenlist_ids(torch.tensor([3, 5, previous])).numpy()
        assert np.array_equal(ours.greenlist_ids(previous), expected)
        # the cached, bit-packed membership test agrees with the list
        tokens = np.arange(vocab_size)
        bits = ours.green_bits(np.stack([np.full(vocab_size, previous), tokens], axis=1))
        assert set(np.flatnonzero(bits).tolist()) == set(expected.tolist())
    assert ours.effective_gamma == int(vocab_size * ratio) / vocab_size


def test_transformers_processor_biases_exactly_those_lists():
    tokenizer = quick_tokenizer()
    vocab = len(tokenizer)
    theirs = HFWatermarkLogitsProcessor(vocab_size=vocab, device="cpu")
    ids = torch.tensor([[4, 9, 200], [4, 9, 31]])
    biased = theirs(ids, torch.zeros(2, vocab)) > 0
    ours = HFLefthashGreenlists(15485863, vocab, 0.25)
    for row in range(2):
        previous = int(ids[row, -1])
        pairs = np.stack([np.full(vocab, previous), np.arange(vocab)], axis=1)
        assert np.array_equal(biased[row].numpy(), ours.green_bits(pairs))


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_text_watermarked_by_plain_transformers_is_verified(micro_model, one_thread):
    tokenizer = micro_model.tokenizer
    vocab = micro_model.vocab_size
    processor = HFWatermarkLogitsProcessor(vocab_size=vocab, device="cpu")
    prompts = ["The old captain", "A young doctor", "My sister", "The river", "The king", "Her mother"]
    sampling = SamplingConfig(max_new_tokens=56, min_new_tokens=56, seed=4)
    marked = generate(micro_model, prompts, sampling, logits_processors=[processor])
    plain = generate(micro_model, prompts, sampling)
    detector = WatermarkDetector(tokenizer, [WatermarkKey.for_transformers(tokenizer, vocab_size=vocab)])

    def pooled(generations):
        results = detector.detect_ids_batch([g.prompt_token_ids + g.token_ids for g in generations],
                                            prompt_lengths=[len(g.prompt_token_ids) for g in generations])
        return sum(r.num_green for r in results), sum(r.num_tokens_scored for r in results)

    green, scored = pooled(marked)
    assert green / scored > 0.4
    assert detector.detect(" ".join(g.text for g in marked)).watermarked
    plain_result = detector.detect(" ".join(g.text for g in plain))
    assert not plain_result.watermarked and plain_result.p_value > 1e-3


def test_wrong_vocab_size_or_hashing_key_does_not_verify():
    tokenizer = quick_tokenizer()
    vocab = len(tokenizer)
    theirs = HFWatermarkLogitsProcessor(vocab_size=vocab, device="cpu")
    generator = torch.Generator().manual_seed(0)
    ids = torch.tensor([[5]])
    for _ in range(150):  # flat logits: green tokens are picked with probability ~0.71
        scores = theirs(ids, torch.zeros(1, vocab))
        scores[0, 0] = -float("inf")
        ids = torch.cat([ids, torch.multinomial(torch.softmax(scores, -1), 1, generator=generator)], dim=1)
    right = WatermarkDetector(tokenizer, [WatermarkKey.for_transformers(tokenizer, vocab)])
    assert right.detect_ids(ids[0]).watermarked
    for key in (WatermarkKey.for_transformers(tokenizer, vocab + 3), WatermarkKey.for_transformers(tokenizer, vocab,
                                                                                                   hashing_key=7)):
        assert not WatermarkDetector(tokenizer, [key]).detect_ids(ids[0]).watermarked
