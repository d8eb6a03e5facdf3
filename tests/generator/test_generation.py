from __future__ import annotations

import pytest
import torch

from generator import GenerationInputError, SamplingConfig, generate

PROMPTS = ["The old captain", "A young doctor walked toward the harbour", "My sister", "The river crossed"]


def test_batched_greedy_matches_one_prompt_at_a_time(micro_model) -> None:
    """Left padding with attention masks must not change any row's continuation."""
    greedy = SamplingConfig(max_new_tokens=12, do_sample=False)
    batched = generate(micro_model, PROMPTS, greedy, batch_size=4)
    single = [generate(micro_model, [prompt], greedy, batch_size=1)[0] for prompt in PROMPTS]
    assert [g.token_ids for g in batched] == [g.token_ids for g in single]
    assert [g.prompt for g in batched] == PROMPTS


def test_kv_cache_does_not_change_the_output(micro_model) -> None:
    cached = generate(micro_model, PROMPTS, SamplingConfig(max_new_tokens=10, do_sample=False, use_cache=True))
    uncached = generate(micro_model, PROMPTS, SamplingConfig(max_new_tokens=10, do_sample=False, use_cache=False))
    assert [g.token_ids for g in cached] == [g.token_ids for g in uncached]


def test_seed_makes_sampling_reproducible(micro_model) -> None:
    config = SamplingConfig(max_new_tokens=16, seed=123, top_k=0, temperature=1.2)
    first = generate(micro_model, PROMPTS, config)
    second = generate(micro_model, PROMPTS, config)
    other = generate(micro_model, PROMPTS, SamplingConfig(max_new_tokens=16, seed=124, top_k=0, temperature=1.2))
    assert [g.text for g in first] == [g.text for g in second]
    assert [g.text for g in first] != [g.text for g in other]


def test_token_counts_and_text_are_the_continuation_only(micro_model) -> None:
    result = generate(micro_model, ["The king"], SamplingConfig(max_new_tokens=8, seed=1))[0]
    assert result.tokens == len(result.token_ids) <= 8
    assert result.text == micro_model.tokenizer.decode(result.token_ids, skip_special_tokens=True)
    assert result.finish_reason in {"eos", "length"}


class ForceToken:
    """A logits processor that leaves only one token possible: proves the hook is applied every step."""

    def __init__(self, token_id: int) -> None:
        self.token_id = token_id
        self.calls = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.calls += 1
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.token_id] = 0.0
        return forced


def test_extra_logits_processors_plug_into_generate(micro_model) -> None:
    token_id = micro_model.tokenizer.convert_tokens_to_ids("e")
    processor = ForceToken(token_id)
    results = generate(micro_model, PROMPTS[:2], SamplingConfig(max_new_tokens=6, seed=0),
                       logits_processors=[processor])
    assert processor.calls == 6
    assert all(r.token_ids == [token_id] * 6 for r in results)


def test_empty_prompt_starts_from_end_of_text(micro_model) -> None:
    result = generate(micro_model, [""], SamplingConfig(max_new_tokens=5, seed=3))[0]
    assert result.prompt_token_ids == [micro_model.tokenizer.eos_token_id]


@pytest.mark.parametrize("max_new_tokens", [0, -3])
def test_non_positive_lengths_are_rejected(micro_model, max_new_tokens: int) -> None:
    with pytest.raises(GenerationInputError, match="max_new_tokens"):
        generate(micro_model, ["hi"], SamplingConfig(max_new_tokens=max_new_tokens))


def test_prompt_longer_than_the_context_is_rejected(micro_model) -> None:
    long_prompt = "the river " * (micro_model.context_length * 2)
    with pytest.raises(GenerationInputError, match="context of"):
        generate(micro_model, [long_prompt], SamplingConfig(max_new_tokens=4))


@pytest.mark.parametrize(
    "config",
    [SamplingConfig(temperature=0), SamplingConfig(top_p=1.5), SamplingConfig(top_k=-1)],
)
def test_invalid_sampling_controls_are_rejected(micro_model, config: SamplingConfig) -> None:
    with pytest.raises(GenerationInputError):
        generate(micro_model, ["hi"], config)
