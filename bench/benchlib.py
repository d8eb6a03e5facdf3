"""Pieces every generation benchmark shares: the prompt set and a GPT-2-small-shaped model for speed runs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from generator import LoadedModel, ModelRequest, load_model
from generator.hub import cached_snapshot

PROMPTS = [
    "The history of the city begins", "In the morning, the detective", "Scientists have long wondered why",
    "She opened the letter and", "The river crossed the valley where", "After the war, the family moved",
    "The committee announced on Tuesday that", "He had never seen a ship so", "The first chapter of the book",
    "According to the report, the", "When the train finally arrived", "The museum's new exhibition",
    "Under the old bridge there was", "The doctor looked at the", "Most of the villagers believed",
    "It was late in the evening when",
]


def gpt2_small_shape(reference: LoadedModel, device: str, dtype: str = "auto", quantize: str = "none") -> LoadedModel:
    """Real gpt2 if cached; else random weights in GPT-2 small's shape (124M, vocab 50,257) with the
    reference tokenizer (ids beyond its vocabulary decode to nothing): for speed, never for quality."""
    if cached_snapshot("gpt2") is not None:
        return load_model("gpt2", ModelRequest(name="gpt2", device=device, dtype=dtype, quantize=quantize,
                                               offline=True))
    directory = Path(tempfile.gettempdir()) / "provenance-bench-gpt2-shape"
    if not (directory / "config.json").is_file():
        torch.manual_seed(0)
        eos = reference.tokenizer.eos_token_id
        config = GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                            bos_token_id=eos, eos_token_id=eos)
        GPT2LMHeadModel(config).save_pretrained(directory)
        reference.tokenizer.save_pretrained(directory)
    loaded = load_model(str(directory), ModelRequest(device=device, dtype=dtype, quantize=quantize, offline=True))
    loaded.name = "gpt2-small-shape (random weights)"
    return loaded
