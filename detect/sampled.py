"""Machine text the platform writes itself: continuations of human prefixes under named sampling settings.

Labelled data rarely says how its machine side was sampled, and the two common settings pull the scorer's
statistics in opposite directions: nucleus / low-temperature text is *more* likely than human text, while pure
sampling (temperature 1, no truncation) from a model other than the scorer is *less* likely. A detector trained on
one only learns one tail. Continuing the human prefixes of the labelled data with a second model (one that is
not the scorer, e.g. a distilled student) under both settings gives each tail labelled examples, and a
"sampling" column that evaluation can hold out like a domain or a generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

SAMPLING = {
    "pure": {"temperature": 1.0, "top_k": 0, "top_p": 1.0},
    "nucleus": {"temperature": 1.0, "top_k": 0, "top_p": 0.9},
}


@dataclass(frozen=True)
class SampledText:
    prefix_index: int
    sampling: str
    text: str  # prefix + continuation, as a reader would see it


def prefix_of(tokenizer, text: str, tokens: int = 30) -> str:
    """The first ``tokens`` tokens of a text, decoded (the labelled pairs share a prefix of this length)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:tokens]
    return tokenizer.decode(ids)


@torch.inference_mode()
def sample_continuations(lm, prefixes: Sequence[str], sampling: str, *, new_tokens: int = 200, seed: int = 0,
                         batch_size: int = 32, progress: Callable[[int], None] | None = None) -> list[SampledText]:
    """One continuation per prefix, sampled with ``SAMPLING[sampling]``; reproducible for a given seed.

    Prefixes are generated in left-padded batches (per-token generation overhead, not arithmetic, dominates a
    small model on CPU, so one prefix at a time is several times slower)."""
    settings = SAMPLING[sampling]
    tokenizer, model = lm.tokenizer, lm.model
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    room = max(int(lm.context_length) - new_tokens, 1)
    encoded = [tokenizer(prefix, add_special_tokens=False)["input_ids"][-room:] for prefix in prefixes]
    out: list[SampledText] = []
    for start in range(0, len(encoded), batch_size):
        rows = encoded[start: start + batch_size]
        width = max(len(ids) for ids in rows)
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for row, ids in enumerate(rows):
            input_ids[row, width - len(ids):] = torch.tensor(ids)
            attention[row, width - len(ids):] = 1
        torch.manual_seed(seed * 1_000_003 + start)
        generated = model.generate(input_ids=input_ids, attention_mask=attention, do_sample=True,
                                   max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=pad,
                                   **settings)
        for row, ids in enumerate(rows):
            text = tokenizer.decode(generated[row, width - len(ids):], skip_special_tokens=True)
            out.append(SampledText(start + row, sampling, text))
        if progress is not None:
            progress(len(rows))
    return out
