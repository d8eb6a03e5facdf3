"""Batched sampling from a loaded GPT-2 with left padding, attention masks and the KV cache.

Extra ``LogitsProcessor`` objects (the watermark, for instance) plug in through ``logits_processors``:
anything with ``__call__(input_ids, scores) -> scores`` works, exactly as in ``transformers.generate``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from generator.errors import GenerationInputError
from generator.loading import LoadedModel


@dataclass(frozen=True)
class SamplingConfig:
    """Decoding controls. ``seed`` makes a run reproducible for the same prompts, batch size and device."""

    max_new_tokens: int = 64
    min_new_tokens: int | None = None  # suppress end-of-text until this many tokens (fixed-length benchmarks)
    temperature: float = 1.0
    top_k: int | None = 50
    top_p: float | None = None
    do_sample: bool = True
    seed: int | None = None
    use_cache: bool = True
    repetition_penalty: float | None = None

    def validate(self) -> None:
        if self.max_new_tokens <= 0:
            raise GenerationInputError(f"max_new_tokens must be a positive integer, got {self.max_new_tokens}",
                                       hint="pass --max-new-tokens 1 or more")
        if self.min_new_tokens is not None and not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise GenerationInputError("min_new_tokens must be between 0 and max_new_tokens",
                                       hint="lower --min-new-tokens")
        if self.do_sample and self.temperature <= 0:
            raise GenerationInputError(f"temperature must be > 0 when sampling, got {self.temperature}",
                                       hint="use a temperature such as 0.7-1.0, or --greedy")
        if self.top_k is not None and self.top_k < 0:
            raise GenerationInputError(f"top_k must be >= 0, got {self.top_k}", hint="0 disables top-k")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise GenerationInputError(f"top_p must be in (0, 1], got {self.top_p}", hint="1.0 disables top-p")
        if self.repetition_penalty is not None and self.repetition_penalty <= 0:
            raise GenerationInputError("repetition_penalty must be > 0", hint="1.0 disables it")

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class Generation:
    """One generated continuation of one prompt."""

    prompt: str
    text: str
    tokens: int
    token_ids: list[int] = field(repr=False)
    prompt_token_ids: list[int] = field(repr=False)
    finish_reason: str = "length"  # "eos" when the model ended the text itself


def encode_prompts(lm: LoadedModel, prompts: Sequence[str], max_new_tokens: int) -> list[list[int]]:
    """Token ids per prompt; an empty prompt starts from the end-of-text token, as GPT-2 was trained."""
    tokenizer = lm.tokenizer
    encoded: list[list[int]] = []
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise GenerationInputError(f"prompt {index} is not a string", hint="prompts must be text")
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"] if prompt else []
        ids = ids or [tokenizer.eos_token_id]
        budget = lm.context_length - max_new_tokens
        if len(ids) > budget:
            raise GenerationInputError(
                f"prompt {index} has {len(ids)} tokens; with max_new_tokens={max_new_tokens} the model's "
                f"context of {lm.context_length} tokens leaves room for at most {max(budget, 0)}",
                hint="shorten the prompt or lower --max-new-tokens",
            )
        encoded.append(ids)
    return encoded


def _pad_left(batch: list[list[int]], pad_id: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    for row, ids in enumerate(batch):
        input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
        attention[row, width - len(ids):] = 1
    return input_ids.to(device), attention.to(device)


def _split_continuation(ids: list[int], eos_id: int) -> tuple[list[int], str]:
    if eos_id in ids:
        return ids[: ids.index(eos_id)], "eos"
    return ids, "length"


def generate(
    lm: LoadedModel,
    prompts: Sequence[str],
    sampling: SamplingConfig | None = None,
    *,
    logits_processors: Sequence[LogitsProcessor] = (),
    batch_size: int = 16,
    on_batch_done: Callable[[int], None] | None = None,
) -> list[Generation]:
    """Generate one continuation per prompt, in input order.

    Prompts are grouped by token length so a batch carries little padding; ``on_batch_done`` receives
    the number of prompts finished (for progress bars).
    """
    sampling = sampling or SamplingConfig()
    sampling.validate()
    if batch_size <= 0:
        raise GenerationInputError("batch_size must be positive", hint="use --batch-size 1 or more")
    encoded = encode_prompts(lm, prompts, sampling.max_new_tokens)
    if sampling.seed is not None:
        torch.manual_seed(sampling.seed)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    results: list[Generation | None] = [None] * len(encoded)
    tokenizer = lm.tokenizer
    eos_id = tokenizer.eos_token_id
    processors = LogitsProcessorList(list(logits_processors))
    options: dict[str, object] = {
        "max_new_tokens": sampling.max_new_tokens,
        "do_sample": sampling.do_sample,
        "use_cache": sampling.use_cache,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": eos_id,
    }
    if sampling.do_sample:
        options.update(temperature=sampling.temperature, top_k=sampling.top_k or 0, top_p=sampling.top_p or 1.0)
    if sampling.min_new_tokens:
        options["min_new_tokens"] = sampling.min_new_tokens
    if sampling.repetition_penalty is not None:
        options["repetition_penalty"] = sampling.repetition_penalty
    for start in range(0, len(order), batch_size):
        members = order[start:start + batch_size]
        input_ids, attention = _pad_left([encoded[i] for i in members], tokenizer.pad_token_id, lm.device)
        with torch.inference_mode():
            output = lm.model.generate(input_ids=input_ids, attention_mask=attention,
                                       logits_processor=processors, **options)
        continuations = output[:, input_ids.shape[1]:].tolist()
        for member, continuation in zip(members, continuations, strict=True):
            kept, reason = _split_continuation(continuation, eos_id)
            results[member] = Generation(
                prompt=prompts[member],
                text=tokenizer.decode(kept, skip_special_tokens=True),
                tokens=len(kept),
                token_ids=kept,
                prompt_token_ids=encoded[member],
                finish_reason=reason,
            )
        if on_batch_done is not None:
            on_batch_done(len(members))
    return [result for result in results if result is not None]
