"""The unigram scheme (one fixed keyed green list) and detection at an operator-chosen false-positive rate.

What must hold: the list is the same after every context and differs between secrets; the processor biases
exactly that list (minus tokens already in the row) and the detector scores exactly it; one edit changes only
the edited token's bit; ``--fpr``-style decisions use the exact binomial tail and answer ``too_short`` below
the tokens a text needs to reach the chosen rate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.watermark.support import SECRET_B, make_key, sample_watermarked_ids
from watermark import WatermarkDetector, WatermarkInputError, WatermarkKey, WatermarkLogitsProcessor, binom_sf
from watermark.prf import derive_material, fixed_green_list, green_bits, green_table
from watermark.schemes import DEFAULT_SCHEME, default_delta
from watermark.stats import min_decidable_tokens


def fixed_list(key: WatermarkKey, vocab: int) -> np.ndarray:
    return fixed_green_list(derive_material(key.secret, key.gamma, key.spec), vocab)


def test_green_list_is_fixed_keyed_and_gamma_sized(tokenizer):
    vocab = len(tokenizer)
    key = make_key(tokenizer, scheme="unigram")
    fixed = fixed_list(key, vocab)
    assert abs(fixed.mean() - key.gamma) < 0.06
    material = derive_material(key.secret, key.gamma, key.spec)
    table = green_table(material, np.zeros((5, 0), dtype=np.int64), vocab)  # no context: every row the same
    assert (table == fixed).all()
    other = fixed_list(make_key(tokenizer, scheme="unigram", secret=SECRET_B), vocab)
    assert 0.25 < (fixed != other).mean() < 0.5  # independent lists differ on about 2 gamma (1 - gamma)
    lefthash = make_key(tokenizer, scheme="lefthash")
    with pytest.raises(ValueError, match="no fixed green list"):
        fixed_list(lefthash, vocab)


def test_the_scheme_is_part_of_the_key_id(tokenizer):
    unigram, selfhash = make_key(tokenizer, scheme="unigram"), make_key(tokenizer, scheme="selfhash")
    assert unigram.key_id != selfhash.key_id
    public = unigram.to_public_dict()
    assert public["scheme"] == "unigram"
    assert WatermarkKey.from_public_dict(public, unigram.secret).key_id == unigram.key_id


def test_new_keys_default_to_unigram_with_its_own_delta(tokenizer):
    key = WatermarkKey.generate(tokenizer)
    assert DEFAULT_SCHEME == "unigram" and key.scheme == "unigram" and key.delta == default_delta("unigram") == 3.0
    assert WatermarkKey.generate(tokenizer, scheme="lefthash").delta == 2.0
    assert WatermarkKey.generate(tokenizer, scheme="unigram", delta=1.5).delta == 1.5


def test_processor_biases_the_fixed_list_except_tokens_already_in_the_row(tokenizer):
    key = make_key(tokenizer, scheme="unigram", delta=1.5)
    vocab = len(tokenizer) + 7  # models may have more rows than the tokenizer has tokens
    fixed = torch.from_numpy(fixed_list(key, vocab))
    input_ids = torch.tensor([[5, 9, 9, 40], [3, 4, 100, 200]])
    scores = torch.randn(2, vocab)
    out = WatermarkLogitsProcessor(key, tokenizer)(input_ids, scores.clone())
    expected = fixed.unsqueeze(0).repeat(2, 1)
    expected.scatter_(1, input_ids, False)
    assert torch.allclose(out - scores, expected.float() * 1.5)
    plain = WatermarkLogitsProcessor(key, tokenizer, boost_repeats=True)
    assert torch.allclose(plain(input_ids, scores.clone()) - scores, fixed.float().expand(2, vocab) * 1.5)
    assert torch.equal(WatermarkLogitsProcessor(key, tokenizer).green_mask(input_ids, vocab), expected)


def test_numpy_and_torch_decide_the_same_bits(tokenizer):
    key = make_key(tokenizer, scheme="unigram")
    vocab = len(tokenizer)
    torch_mask = WatermarkLogitsProcessor(key, tokenizer, boost_repeats=True).green_mask(
        torch.zeros((1, 0), dtype=torch.long), vocab)[0].numpy()
    numpy_bits = green_bits(derive_material(key.secret, key.gamma, key.spec), np.arange(vocab)[:, None])
    assert (torch_mask == numpy_bits).all()


def bits(detector: WatermarkDetector, ids: list[int]) -> list[bool | None]:
    return detector.detect_ids(ids).green_mask


@pytest.mark.parametrize(("scheme", "most_changed"), [("unigram", 1), ("lefthash", 2)])
def test_one_substitution_changes_only_the_edited_tokens_bit(tokenizer, scheme, most_changed):
    """Distinct ids (no de-duplication effects): the unigram bits move only where the token was replaced;
    lefthash also moves the next token's bit (its context changed)."""
    key = make_key(tokenizer, scheme=scheme)
    detector = WatermarkDetector(tokenizer, [key], min_tokens=1)
    rng = np.random.default_rng(4)
    ids = rng.permutation(np.arange(10, len(tokenizer)))[:60].tolist()
    spare = [i for i in range(10, len(tokenizer)) if i not in ids]
    before = bits(detector, ids)
    most = 0
    for position in range(1, 59):
        for replacement in spare[:8]:
            edited = ids.copy()
            edited[position] = replacement
            after = bits(detector, edited)
            changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
            assert set(changed) <= {position, position + 1}
            if scheme == "unigram":
                assert set(changed) <= {position}
            most = max(most, len(changed))
    assert most == most_changed


def test_deleting_or_inserting_a_token_moves_no_other_unigram_bit(tokenizer):
    key = make_key(tokenizer, scheme="unigram")
    detector = WatermarkDetector(tokenizer, [key], min_tokens=1)
    ids = list(range(20, 80))
    before = bits(detector, ids)
    assert bits(detector, ids[:30] + ids[31:]) == before[:30] + before[31:]
    inserted = bits(detector, ids[:30] + [7] + ids[30:])
    assert inserted[:30] + inserted[31:] == before


def test_repeated_tokens_count_once(tokenizer):
    key = make_key(tokenizer, scheme="unigram")
    result = WatermarkDetector(tokenizer, [key], min_tokens=1).detect_ids([50, 51, 50, 50, 52, 51])
    assert result.num_tokens_scored == 3 and result.green_mask[2:4] == [None, None]


def test_detector_finds_unigram_samples_and_not_other_keys(tokenizer):
    key = make_key(tokenizer, scheme="unigram")
    ids = sample_watermarked_ids(key, tokenizer, 150, seed=2, prompt=[7, 8, 9])
    result = WatermarkDetector(tokenizer, [key]).detect_ids(ids)
    assert result.watermarked and result.scheme == "unigram" and result.z_score > 4
    assert result.p_value == pytest.approx(binom_sf(result.num_green, result.num_tokens_scored, key.gamma))
    other = WatermarkDetector(tokenizer, [make_key(tokenizer, scheme="unigram", secret=SECRET_B)])
    assert not other.detect_ids(ids).watermarked


def test_unigram_micro_model_generation_is_detected_from_text(micro_model):
    """Real generate() with the default processor (repeats not boosted): detected from the decoded text."""
    from generator import SamplingConfig, generate

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tokenizer = micro_model.tokenizer
        key = make_key(tokenizer, scheme="unigram", delta=4.0)
        sampling = SamplingConfig(max_new_tokens=56, min_new_tokens=56, seed=3, top_k=None, temperature=1.3)
        prompts = ["The old captain", "A young doctor", "My sister", "The river"]
        marked = generate(micro_model, prompts, sampling, logits_processors=[WatermarkLogitsProcessor(key, tokenizer)])
        plain = generate(micro_model, prompts, sampling)
    finally:
        torch.set_num_threads(before)
    detector = WatermarkDetector(tokenizer, [key])
    marked_result = detector.detect(" ".join(g.text for g in marked))
    assert marked_result.watermarked and marked_result.z_score > 4
    assert not detector.detect(" ".join(g.text for g in plain)).watermarked


# ----------------------------------------------------------------------------------------- FPR and too_short
@pytest.mark.parametrize(("gamma", "alpha", "expected"), [(0.25, 1e-3, 5), (0.25, 1e-5, 9), (0.5, 1e-3, 10),
                                                          (0.25, 0.25 ** 6, 7)])
def test_min_decidable_tokens_is_the_first_n_whose_all_green_outcome_is_significant(gamma, alpha, expected):
    n = min_decidable_tokens(gamma, alpha)
    assert n == expected
    assert gamma ** n < alpha <= gamma ** (n - 1)


def test_fpr_sets_the_threshold_and_min_tokens(tokenizer):
    key = make_key(tokenizer, scheme="unigram")
    default = WatermarkDetector(tokenizer, [key])
    assert default.fpr is None and default.p_threshold == pytest.approx(0.5 * math.erfc(4 / math.sqrt(2)))
    strict = default.at_fpr(1e-12)
    assert strict is not default and strict.p_threshold == 1e-12 and default.fpr is None
    assert strict.min_tokens_required() == min_decidable_tokens(0.25, 1e-12) == 20
    assert default.at_fpr(1e-3).min_tokens_required() == 16  # the floor of min_tokens
    two_keys = WatermarkDetector(tokenizer, [key, make_key(tokenizer, scheme="unigram", secret=SECRET_B)], fpr=1e-12)
    assert two_keys.min_tokens_required() == min_decidable_tokens(0.25, 0.5e-12)  # Bonferroni over two keys
    for bad in (0.0, 1.0, -1e-3, float("nan"), 2):
        with pytest.raises(WatermarkInputError, match="fpr"):
            default.at_fpr(bad)


def test_decision_at_fpr_uses_the_exact_binomial_tail(tokenizer):
    key = make_key(tokenizer, scheme="unigram")
    ids = sample_watermarked_ids(key, tokenizer, 60, seed=5, prompt=[7])
    base = WatermarkDetector(tokenizer, [key]).detect_ids(ids)
    p = base.p_value
    assert WatermarkDetector(tokenizer, [key], fpr=min(0.99, p * 1.01)).detect_ids(ids).watermarked
    loose = WatermarkDetector(tokenizer, [key], fpr=p * 0.99).detect_ids(ids)
    assert not loose.watermarked and not loose.too_short and loose.fpr == pytest.approx(p * 0.99)


def test_too_short_below_the_required_tokens(tokenizer):
    key = make_key(tokenizer, scheme="unigram")
    detector = WatermarkDetector(tokenizer, [key], fpr=1e-12)
    green = [int(i) for i in np.flatnonzero(fixed_list(key, len(tokenizer)))[1:40]]
    short = detector.detect_ids(green[:19])  # all green, but 0.25**19 > 1e-12: undecidable at this rate
    assert short.too_short and short.abstain and not short.watermarked and short.min_tokens_required == 20
    assert "too short" in short.reason and short.p_value is None
    decided = detector.detect_ids(green[:20])
    assert not decided.too_short and decided.watermarked and decided.p_value < 1e-12
    assert WatermarkDetector(tokenizer, [key]).detect("").too_short


def test_dashboard_summary_shows_scheme_tokens_and_too_short():
    from dashboard.evidence import watermark_summary

    short = watermark_summary({"watermarked": False, "too_short": True, "num_tokens_scored": 9,
                               "min_tokens_required": 16, "fpr": 1e-3, "scheme": "unigram", "key_id": "wm-1"})
    assert short.startswith("too short to decide (FPR 0.001)") and "9 of 16 needed" in short
    assert "scheme unigram" in short and "p = n/a" in short
    found = watermark_summary({"watermarked": True, "z_score": 6.5, "p_value": 1e-9, "num_tokens_scored": 80,
                               "scheme": "lefthash", "key_id": "wm-2"})
    assert found.startswith("detected · z = 6.50") and "tokens scored 80 ·" in found and "scheme lefthash" in found
    assert "not detected" in watermark_summary({})  # a verdict stored before these fields existed
