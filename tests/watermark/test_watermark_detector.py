"""The detector: result contract, prompt/special handling, normalisation, key rotation and bad input."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from generator import SamplingConfig, generate
from testkit.texts import synthetic_paragraphs
from tests.watermark.support import SECRET_B, make_key, sample_watermarked_ids
from watermark import (
    DetectionResult,
    WatermarkDetector,
    WatermarkError,
    WatermarkInputError,
    WatermarkLogitsProcessor,
    normalize_text,
    normalize_with_offsets,
)

PROMPT = [7, 8, 9]


@pytest.fixture(scope="module")
def key(tokenizer):
    return make_key(tokenizer, scheme="selfhash")


@pytest.fixture(scope="module")
def detector(tokenizer, key):
    return WatermarkDetector(tokenizer, [key])


@pytest.fixture(scope="module")
def marked_ids(tokenizer, key):
    return sample_watermarked_ids(key, tokenizer, 150, seed=2, prompt=PROMPT)


@pytest.fixture(scope="module")
def micro_texts(micro_model, key):
    """Watermarked and plain micro-model text (one intra-op thread: see test_watermark_processor)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        prompts = ["The old captain", "A young doctor", "My sister", "The river", "The king", "Her mother",
                   "The small boat", "A tired soldier"]
        sampling = SamplingConfig(max_new_tokens=56, min_new_tokens=56, seed=5)
        tokenizer = micro_model.tokenizer
        processor = WatermarkLogitsProcessor(make_key(tokenizer, scheme="selfhash"), tokenizer)
        marked = generate(micro_model, prompts, sampling, logits_processors=[processor])
    finally:
        torch.set_num_threads(before)
    return [g.text for g in marked]


def test_result_contract(detector, key, marked_ids):
    result = detector.detect_ids(marked_ids, prompt_ids=PROMPT)
    assert isinstance(result, DetectionResult)
    assert result.watermarked and not result.abstain and result.reason is None
    assert result.key_id == key.key_id and result.keys_tested == 1
    assert result.p_value == result.p_value_uncorrected < result.p_value_threshold
    assert result.green_fraction == pytest.approx(result.num_green / result.num_tokens_scored)
    assert result.z_score > 4
    assert len(result.green_mask) == len(marked_ids) == result.num_tokens
    assert sum(bit is not None for bit in result.green_mask) == result.num_tokens_scored
    assert sum(bit is True for bit in result.green_mask) == result.num_green
    json.dumps(result.to_dict())


def test_prompt_tokens_are_context_never_scored(detector, marked_ids):
    separate = detector.detect_ids(marked_ids, prompt_ids=PROMPT)
    inline = detector.detect_ids(PROMPT + marked_ids, prompt_length=len(PROMPT))
    assert inline.num_tokens_scored == separate.num_tokens_scored and inline.num_green == separate.num_green
    assert inline.green_mask[:3] == [None, None, None] and inline.green_mask[3:] == separate.green_mask
    # without the prompt as context the first three continuation tokens lose their selfhash context
    alone = detector.detect_ids(marked_ids)
    assert alone.green_mask[:3] == [None, None, None]
    with pytest.raises(WatermarkInputError):
        detector.detect_ids(marked_ids, prompt_ids=PROMPT, prompt_length=2)


def test_special_tokens_and_their_contexts_are_never_scored(tokenizer, detector, marked_ids):
    eos = tokenizer.eos_token_id
    ids = marked_ids[:40] + [eos, eos] + marked_ids[40:]
    result = detector.detect_ids(ids, prompt_ids=PROMPT)
    # the two specials and the three tokens whose window contains one are unscored
    assert result.green_mask[40:45] == [None] * 5


def test_batch_equals_one_by_one(detector, marked_ids):
    documents = [marked_ids, marked_ids[:50], list(np.random.default_rng(1).integers(1, 500, size=90)), [5, 6]]
    batch = detector.detect_ids_batch(documents, details=True)
    for document, result in zip(documents, batch, strict=True):
        single = detector.detect_ids(document)
        assert (result.p_value, result.num_green, result.num_tokens_scored, result.abstain) == \
               (single.p_value, single.num_green, single.num_tokens_scored, single.abstain)
        assert result.green_mask == single.green_mask


def test_key_rotation_reports_the_matching_key_with_bonferroni(tokenizer, key, marked_ids):
    old = make_key(tokenizer, scheme="selfhash", secret=SECRET_B)
    lefthash = make_key(tokenizer, scheme="lefthash")
    detector = WatermarkDetector(tokenizer, [old, key, lefthash, key])  # duplicates are tested once
    result = detector.detect_ids(marked_ids, prompt_ids=PROMPT)
    assert result.watermarked and result.key_id == key.key_id and result.keys_tested == 3
    assert result.p_value == pytest.approx(min(1.0, 3 * result.p_value_uncorrected))
    assert "bonferroni" in result.correction and "3 keys" in result.correction
    assert [score.key_id for score in result.per_key] == [old.key_id, key.key_id, lefthash.key_id]
    assert all(score.p_value > 1e-3 for score in result.per_key if score.key_id != key.key_id)


def test_text_offsets_point_into_the_callers_text(tokenizer, detector):
    text = "The old captain walked toward the harbour before the storm. My sister remembered a silver key."
    result = detector.detect(text)
    assert len(result.token_offsets) == result.num_tokens
    assert "".join(text[a:b] for a, b in result.token_offsets) == text


def test_offsets_survive_normalisation(detector):
    text = "The cafe\u0301 \u0441aptain\u200b walked \uff48ome. " * 4
    result = detector.detect(text)
    spans = result.token_offsets
    assert all(0 <= a <= b <= len(text) for a, b in spans)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert normalize_text(text).startswith("The café captain walked home.")


def test_normalisation_undoes_homoglyph_and_invisible_character_edits(micro_model, micro_texts):
    tokenizer = micro_model.tokenizer
    detector = WatermarkDetector(tokenizer, [make_key(tokenizer, scheme="selfhash")])
    text = " ".join(micro_texts)
    clean = detector.detect(text)
    attacked = text.replace(" ", " \u200b").replace("a", "\u0430").replace("o", "\u03bf").replace("e", "\uff45")
    assert normalize_text(attacked) == text
    after = detector.detect(attacked)
    assert clean.watermarked and after.watermarked
    assert (after.p_value, after.num_tokens_scored) == (clean.p_value, clean.num_tokens_scored)
    raw = WatermarkDetector(tokenizer, [make_key(tokenizer, scheme="selfhash")], normalize=False).detect(attacked)
    assert not raw.watermarked


def test_windowed_finds_an_inserted_span_with_char_offsets(micro_model, micro_texts):
    tokenizer = micro_model.tokenizer
    detector = WatermarkDetector(tokenizer, [make_key(tokenizer, scheme="selfhash")])
    human = synthetic_paragraphs(40, seed=21)
    inserted = " ".join(micro_texts)
    before, after = "\n\n".join(human[:20]) + "\n\n", "\n\n" + "\n\n".join(human[20:])
    text = before + inserted + after
    start, end = len(before), len(before) + len(inserted)
    result = detector.detect_windowed(text)
    assert result.watermarked and result.spans
    span = result.spans[0]
    assert span.p_value < detector.p_threshold and span.p_value >= span.p_value_uncorrected
    # the micro model imitates the human paragraphs and its watermark is weak (green fraction ~0.45), so the
    # boundaries are fuzzy by a few tokens: require 85% intersection-over-union and < 150 characters of error
    overlap = min(end, span.end) - max(start, span.start)
    assert overlap / (max(end, span.end) - min(start, span.start)) > 0.85, (span.start, span.end, start, end)
    assert abs(span.start - start) < 150 and abs(span.end - end) < 150
    assert span.token_start < span.token_end and span.window_token_start < span.window_token_end
    assert result.windows_tested > 100 and "bonferroni" in result.method.lower()
    human_only = detector.detect_windowed("\n\n".join(human))
    assert not human_only.watermarked and human_only.spans == [] and human_only.best_span is not None


def test_windowed_ids_token_indices_and_two_spans(tokenizer, key, detector):
    rng = np.random.default_rng(8)
    first = sample_watermarked_ids(key, tokenizer, 120, seed=3, prompt=[11, 12, 13])
    second = sample_watermarked_ids(key, tokenizer, 120, seed=4, prompt=[21, 22, 23])
    human = [list(rng.integers(1, len(tokenizer), size=n)) for n in (300, 300, 200)]
    ids = human[0] + first + human[1] + second + human[2]
    result = detector.detect_windowed_ids(ids, max_spans=3)
    assert len(result.spans) == 2
    found = sorted((s.token_start, s.token_end) for s in result.spans)
    truth = [(300, 420), (720, 840)]
    for (a, b), (x, y) in zip(found, truth, strict=True):
        assert abs(a - x) <= 12 and abs(b - y) <= 12
    assert all(s.start is None for s in result.spans)


def test_windowed_p_value_is_valid_under_the_null(tokenizer, detector):
    rng = np.random.default_rng(9)
    flagged = sum(detector.detect_windowed_ids(rng.integers(1, len(tokenizer), size=400)).watermarked
                  for _ in range(200))
    assert flagged == 0


@pytest.mark.parametrize("text, reason", [
    ("", "no tokens"),
    ("   \n\t  \n", "could be scored"),
    ("😀🎉👍", "could be scored"),
    ("Short text.", "could be scored"),
])
def test_too_little_text_abstains_with_a_reason(detector, text, reason):
    result = detector.detect(text)
    assert result.abstain and not result.watermarked and result.p_value is None and reason in result.reason
    assert detector.detect_windowed(text).abstain


def test_emoji_only_text_gets_a_clear_answer(detector):
    result = detector.detect("".join(chr(0x1F600 + i % 80) for i in range(400)))
    assert not result.watermarked and (result.abstain or result.p_value > 1e-4)


@pytest.mark.parametrize("data, message", [
    (b"caf\xc3 broken \xff\xfe", "not valid UTF-8"),
    ("lone \ud800 surrogate", "surrogate"),
    (12345, "expected text"),
    (None, "expected text"),
])
def test_invalid_input_raises_a_clear_error(detector, data, message):
    with pytest.raises(WatermarkInputError, match=message):
        detector.detect(data)
    assert issubclass(WatermarkInputError, ValueError) and issubclass(WatermarkInputError, WatermarkError)


def test_valid_utf8_bytes_are_accepted(detector):
    text = "The old captain walked toward the harbour before the storm. " * 3
    assert detector.detect(text.encode()).num_tokens == detector.detect(text).num_tokens


@pytest.mark.parametrize("ids, message", [
    ([[1, 2], [3, 4]], "1-D"),
    ([1.5, 2.5], "integers"),
    ([1, -2, 3], "negative"),
    (["a", "b"], "integers"),
])
def test_invalid_token_ids_raise(detector, ids, message):
    with pytest.raises(WatermarkInputError, match=message):
        detector.detect_ids(ids)


def test_torch_tensors_are_accepted(detector, marked_ids):
    assert detector.detect_ids(torch.tensor(marked_ids)).p_value == detector.detect_ids(marked_ids).p_value


def test_text_size_limit(tokenizer, key):
    small = WatermarkDetector(tokenizer, [key], max_chars=100)
    with pytest.raises(WatermarkInputError, match="at most 100"):
        small.detect("x" * 101)


def test_one_megabyte_is_tokenised_in_chunks(detector):
    text = "\n\n".join(synthetic_paragraphs(3000, seed=9))
    big = (text * (1_000_000 // len(text) + 1))[:1_000_000]
    result = detector.detect(big)
    assert not result.watermarked and result.num_tokens > 100_000
    assert result.token_offsets[-1][1] == len(big)
    a, b = result.token_offsets[len(result.token_offsets) // 2]
    assert big[a:b]


@pytest.mark.slow
def test_five_megabytes_finish_in_reasonable_time(detector):
    text = "\n\n".join(synthetic_paragraphs(3000, seed=9))
    mixed = "Ünïcöde ñ 中文 😀 \u200b" + text
    big = (mixed * (5_000_000 // len(mixed) + 1))[:5_000_000]
    started = time.perf_counter()
    result = detector.detect(big)
    windowed = detector.detect_windowed(big)
    assert time.perf_counter() - started < 120
    assert not result.watermarked and not windowed.watermarked


def test_normalize_with_offsets_maps_back():
    text = "Cafe\u0301\u200b \u0410BC \uff41"
    normalized = normalize_with_offsets(text)
    assert normalized.text == "Café ABC a"
    assert normalized.original_span(0, 4) == (0, 5)  # "Café" covers the decomposed "e" + accent
    assert normalized.original_span(5, 8) == (7, 10)
    assert normalize_with_offsets("plain ascii").starts is None


def test_chunked_tokenisation_matches_whole_text(tokenizer):
    from watermark.tokens import tokenize

    text = "\n\n".join(synthetic_paragraphs(200, seed=4)) + "  double  spaces\tand tabs  "
    whole = tokenize(tokenizer, text, chunk_chars=10**9)
    chunked = tokenize(tokenizer, text, chunk_chars=700)
    assert np.array_equal(whole.ids, chunked.ids) and np.array_equal(whole.offsets, chunked.offsets)
    no_spaces = "x" * 5000
    assert "".join(no_spaces[a:b] for a, b in tokenize(tokenizer, no_spaces, chunk_chars=700).offsets) == no_spaces
