"""Held-out perplexity: the one number that says whether a model (or its int8 copy) is still good.

Text is joined with end-of-text separators into one token stream and cut into non-overlapping blocks of
the model's context length, the same way the bootstrap trainer evaluates, so numbers are comparable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


@torch.inference_mode()
def stream_perplexity(model: torch.nn.Module, token_ids: torch.Tensor, *, block_size: int,
                      batch_size: int = 8, max_tokens: int | None = None) -> dict[str, float]:
    """Perplexity of a 1-D token stream in blocks of ``block_size`` (each block predicts its own tokens)."""
    ids = token_ids.reshape(-1)
    if max_tokens is not None:
        ids = ids[: max_tokens + 1]
    n_blocks = (ids.numel() - 1) // block_size
    if n_blocks == 0:
        raise ValueError(f"need more than {block_size} tokens to measure perplexity, got {ids.numel()}")
    device = next(model.parameters()).device if any(True for _ in model.parameters()) else torch.device("cpu")
    blocks = ids[: n_blocks * block_size + 1]
    total_nll, total_tokens = 0.0, 0
    for start in range(0, n_blocks, batch_size):
        stop = min(start + batch_size, n_blocks)
        inputs = torch.stack([blocks[i * block_size:(i + 1) * block_size] for i in range(start, stop)])
        targets = torch.stack([blocks[i * block_size + 1:(i + 1) * block_size + 1] for i in range(start, stop)])
        inputs = inputs.to(device)
        logits = model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).logits.float()
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.to(device).reshape(-1),
                              reduction="sum")
        total_nll += float(nll)
        total_tokens += targets.numel()
    mean_nll = total_nll / total_tokens
    return {"perplexity": math.exp(mean_nll), "mean_nll": mean_nll, "tokens": float(total_tokens)}


def text_perplexity(lm, texts: Sequence[str], *, max_tokens: int | None = 50_000,
                    block_size: int | None = None, batch_size: int = 8) -> dict[str, float]:
    """Perplexity of ``texts`` under a ``LoadedModel`` (blocks default to the full context length)."""
    tokenizer = lm.tokenizer
    stream: list[int] = []
    for text in texts:
        stream.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        stream.append(tokenizer.eos_token_id)
        if max_tokens is not None and len(stream) > max_tokens:
            break
    return stream_perplexity(lm.model, torch.tensor(stream, dtype=torch.long),
                             block_size=block_size or lm.context_length, batch_size=batch_size,
                             max_tokens=max_tokens)
