"""The logits processor: exact bias on the detector's green list, short/padded contexts, and end-to-end
generation with the micro model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from generator import SamplingConfig, generate
from tests.watermark.support import SECRET_B, make_key, quick_tokenizer, sample_watermarked_ids
from watermark import WatermarkDetector, WatermarkError, WatermarkLogitsProcessor, tokenizer_fingerprint
from watermark.prf import derive_material, green_table


@pytest.fixture
def one_thread():
    """Generation with one intra-op thread: on a shared 2-core machine two threads wait on each other and a
    0.3 s generation takes 20 s. Restored afterwards so other tests see the default."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("scheme", ["lefthash", "selfhash"])
def test_adds_delta_exactly_on_the_detectors_green_list(tokenizer, scheme):
    key = make_key(tokenizer, scheme=scheme, delta=1.5)
    processor = WatermarkLogitsProcessor(key, tokenizer)
    rng = np.random.default_rng(0)
    vocab = len(tokenizer) + 11  # models may have more rows than the tokenizer has tokens
    input_ids = torch.tensor(rng.integers(1, len(tokenizer), size=(6, 9)))
    scores = torch.randn(6, vocab)
    out = processor(input_ids, scores.clone())
    material = derive_material(key.secret, key.gamma, key.spec)
    expected = green_table(material, input_ids[:, -key.spec.prefix_len:].numpy(), vocab)
    assert torch.allclose(out - scores, torch.from_numpy(expected).float() * 1.5)
    assert out.dtype == scores.dtype


def test_bfloat16_scores_keep_their_dtype(tokenizer):
    processor = WatermarkLogitsProcessor(make_key(tokenizer), tokenizer)
    scores = torch.zeros(2, len(tokenizer), dtype=torch.bfloat16)
    out = processor(torch.tensor([[5, 6, 7], [8, 9, 10]]), scores)
    assert out.dtype == torch.bfloat16 and set(out.unique().tolist()) == {0.0, 2.0}


def test_short_and_padded_contexts_get_no_bias(tokenizer):
    """Rows without prefix_len real tokens (short prompt, or left padding with the special end-of-text token)
    are not biased; the detector does not score those positions either."""
    key = make_key(tokenizer, scheme="selfhash")
    processor = WatermarkLogitsProcessor(key, tokenizer)
    scores = torch.zeros(1, len(tokenizer))
    assert torch.equal(processor(torch.tensor([[5, 6]]), scores), scores)  # shorter than the context
    pad = tokenizer.pad_token_id
    batch = torch.tensor([[pad, pad, 5, 6], [3, 4, 5, 6]])
    out = processor(batch, torch.zeros(2, len(tokenizer)))
    assert out[0].abs().sum() == 0 and out[1].abs().sum() > 0
    detector = WatermarkDetector(tokenizer, [key], min_tokens=1)
    result = detector.detect_ids([5, 6, 7, 8, 9])
    assert result.green_mask[:3] == [None, None, None] and result.green_mask[3] is not None


def test_detector_refuses_a_model_with_fewer_logits_than_tokens(tokenizer):
    processor = WatermarkLogitsProcessor(make_key(tokenizer), tokenizer)
    with pytest.raises(WatermarkError, match="columns"):
        processor(torch.tensor([[1, 2, 3]]), torch.zeros(1, len(tokenizer) - 5))


@pytest.mark.parametrize("scheme", ["lefthash", "selfhash"])
def test_flat_model_samples_are_detected_and_other_keys_are_not(tokenizer, scheme):
    key = make_key(tokenizer, scheme=scheme)
    ids = sample_watermarked_ids(key, tokenizer, 120, seed=1, prompt=[7, 8, 9])
    result = WatermarkDetector(tokenizer, [key]).detect_ids(ids, prompt_ids=[7, 8, 9])
    assert result.watermarked and result.green_fraction > 0.55 and result.p_value < 1e-10
    other = WatermarkDetector(tokenizer, [make_key(tokenizer, scheme=scheme, secret=SECRET_B)])
    assert not other.detect_ids(ids, prompt_ids=[7, 8, 9]).watermarked


PROMPTS = ["The old captain", "A young doctor", "My sister", "The river", "The king", "Her mother",
           "The small boat", "A tired soldier"]


@pytest.mark.parametrize("scheme", ["lefthash", "selfhash"])
def test_micro_model_text_is_detected_and_plain_text_is_not(micro_model, scheme, one_thread):
    tokenizer = micro_model.tokenizer
    key = make_key(tokenizer, scheme=scheme)
    detector = WatermarkDetector(tokenizer, [key])
    sampling = SamplingConfig(max_new_tokens=56, min_new_tokens=56, seed=3)
    marked = generate(micro_model, PROMPTS, sampling, logits_processors=[WatermarkLogitsProcessor(key, tokenizer)])
    plain = generate(micro_model, PROMPTS, sampling)
    marked_ids = [i for g in marked for i in g.token_ids]
    assert len(marked_ids) >= 200
    per_sample = detector.detect_ids_batch([g.prompt_token_ids + g.token_ids for g in marked],
                                           prompt_lengths=[len(g.prompt_token_ids) for g in marked])
    assert sum(r.num_green for r in per_sample) / sum(r.num_tokens_scored for r in per_sample) > 0.38
    marked_text = detector.detect(" ".join(g.text for g in marked))
    assert marked_text.watermarked and marked_text.key_id == key.key_id
    plain_text = detector.detect(" ".join(g.text for g in plain))
    assert not plain_text.watermarked and plain_text.p_value > 1e-3


def test_quick_tokenizer_is_deterministic_and_byte_level():
    first, second = quick_tokenizer(), quick_tokenizer()
    assert first is second
    assert tokenizer_fingerprint(first) == tokenizer_fingerprint(quick_tokenizer.__wrapped__())
    assert first.all_special_ids == [0]
    assert first.decode(first.encode("naïve 😀", add_special_tokens=False)) == "naïve 😀"
