"""Model and training sizes for ``provenance model bootstrap``.

``tiny`` was chosen by measurement on 2 CPU cores: among the shapes tried in bench/bootstrap_sweep.py it
reached the best held-out perplexity in a 15-minute budget (see README, "Bootstrap model"). ``small``
matches the shape of the GPU-trained reference checkpoint and is meant for a GPU. ``micro`` exists for
smoke tests and CI: it trains in seconds and is a real, if weak, language model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    vocab_size: int
    n_layer: int
    n_embd: int
    n_head: int
    context_length: int
    batch_size: int  # sequences per optimizer step
    learning_rate: float
    warmup_fraction: float  # of the time (or step) budget
    tokenizer_sample_bytes: int
    eval_tokens: int
    max_train_bytes: int  # text encoded for training: a bit more than the budget can consume
    default_minutes: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "micro": Preset("micro", vocab_size=512, n_layer=2, n_embd=64, n_head=2, context_length=64, batch_size=16,
                    learning_rate=3e-3, warmup_fraction=0.05, tokenizer_sample_bytes=2_000_000,
                    eval_tokens=4_096, max_train_bytes=4_000_000, default_minutes=0.5),
    "tiny": Preset("tiny", vocab_size=4096, n_layer=3, n_embd=192, n_head=4, context_length=128, batch_size=32,
                   learning_rate=2e-3, warmup_fraction=0.03, tokenizer_sample_bytes=12_000_000,
                   eval_tokens=65_536, max_train_bytes=24_000_000, default_minutes=15.0),
    "small": Preset("small", vocab_size=16384, n_layer=6, n_embd=512, n_head=8, context_length=512,
                    batch_size=64, learning_rate=1e-3, warmup_fraction=0.03,
                    tokenizer_sample_bytes=48_000_000, eval_tokens=200_000, max_train_bytes=400_000_000,
                    default_minutes=15.0),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        from generator.errors import GeneratorError

        raise GeneratorError(f"unknown preset {name!r}", hint="use one of: " + ", ".join(PRESETS)) from None
