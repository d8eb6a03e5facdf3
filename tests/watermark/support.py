"""Shared helpers for the watermark tests: small tokenizers that need no model, and synthetic watermarked ids.

The detector needs only a tokenizer, so most watermark tests use a byte-level BPE trained in a fraction of a
second on the synthetic corpus instead of waiting for the session's micro model.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

from testkit.texts import synthetic_paragraphs
from watermark import WatermarkKey, WatermarkLogitsProcessor, tokenizer_fingerprint

SHARED = Path(__file__).resolve().parents[3] / "shared"
SECRET_A = bytes(range(32))
SECRET_B = bytes(range(100, 132))


@lru_cache(maxsize=4)
def quick_tokenizer(seed: int = 0, vocab_size: int = 512):
    from generator.bootstrap.tokenizer import train_tokenizer

    return train_tokenizer(synthetic_paragraphs(600, seed=seed), vocab_size=vocab_size, context_length=64)


def make_key(tokenizer, scheme: str = "selfhash", secret: bytes = SECRET_A, gamma: float = 0.25,
             delta: float = 2.0) -> WatermarkKey:
    return WatermarkKey(secret=secret, tokenizer_fingerprint=tokenizer_fingerprint(tokenizer), gamma=gamma,
                        delta=delta, scheme=scheme)


def sample_watermarked_ids(key: WatermarkKey, tokenizer, length: int, seed: int, prompt: list[int]) -> list[int]:
    """Ids from a 'model' with flat logits over the non-special vocabulary, through the real logits processor:
    each keyed step is green with probability gamma*e^delta / (gamma*e^delta + 1 - gamma) (0.71 by default)."""
    processor = WatermarkLogitsProcessor(key, tokenizer)
    generator = torch.Generator().manual_seed(seed)
    ids = torch.tensor([prompt], dtype=torch.long)
    vocab = len(tokenizer)
    flat = torch.zeros((1, vocab))
    flat[0, tokenizer.all_special_ids] = -float("inf")
    for _ in range(length):
        scores = processor(ids, flat.clone())
        choice = torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator)
        ids = torch.cat([ids, choice], dim=1)
    return ids[0, len(prompt):].tolist()


def random_documents(count: int, vocab: int, seed: int, low: int = 16, high: int = 300) -> list[np.ndarray]:
    """Unwatermarked documents: uniform random non-special ids (id 0 is the special token) of random lengths."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(low, high, size=count)
    return [rng.integers(1, vocab, size=n) for n in lengths]


def require_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is missing (the shared data/models folder is not mounted here)")
    return path
