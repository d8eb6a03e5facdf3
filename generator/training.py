"""Training helpers the bootstrap trainer and distillation share (and LoRA's token encoding).

They were private names of ``generator.bootstrap.trainer`` imported by its siblings; one public module keeps
each trainer's file about its own loop: how the corpus becomes one token stream, how much text a preset
trains on, the time-budget learning-rate schedule, and how a model, its card and the memorisation index of its
training text are swapped into place at once (so a crash never leaves a half-written checkpoint).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generator.bootstrap.presets import Preset

CARD_FILE = "model_card.json"
# Writes the memorisation index of a model's training text into a directory; returns the index's card.
IndexWriter = Callable[[Path, list[str]], dict[str, Any]]


def encode_paragraphs(tokenizer: Any, paragraphs: list[str]) -> np.ndarray:
    """One token stream: paragraphs joined by blank lines, documents of a batch by end-of-text."""
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    chunk = 4096
    for start in range(0, len(paragraphs), chunk):
        encodings = tokenizer.backend_tokenizer.encode_batch(paragraphs[start:start + chunk])
        for encoding in encodings:
            stream.extend(encoding.ids)
            stream.append(eos)
    dtype = np.uint16 if tokenizer.vocab_size <= 65535 else np.int32
    return np.asarray(stream, dtype=dtype)


def take_bytes(paragraphs: list[str], max_bytes: int) -> list[str]:
    """The leading paragraphs up to ``max_bytes`` of UTF-8 (a preset's training-text budget)."""
    taken, total = [], 0
    for paragraph in paragraphs:
        if total >= max_bytes:
            break
        taken.append(paragraph)
        total += len(paragraph.encode("utf-8")) + 1
    return taken


def lr_at(fraction: float, preset: Preset) -> float:
    """Linear warm-up, then cosine decay to 10%, over the fraction of the time budget spent."""
    if fraction < preset.warmup_fraction:
        return preset.learning_rate * max(fraction / preset.warmup_fraction, 0.01)
    progress = min((fraction - preset.warmup_fraction) / (1 - preset.warmup_fraction), 1.0)
    return preset.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def clipped_step(model: Any, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One update from ``loss``, its gradient clipped to norm 1 so one unlucky batch cannot wreck a short run."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()


def smoothed(average: float | None, value: float, weight: float) -> float:
    """Exponential moving average (``value`` alone at first): steadier step times for the evaluation reserve,
    steadier losses for the progress bar and the card."""
    return value if average is None else (1 - weight) * average + weight * value


def trained_card_fields(model: Any, tokenizer: Any, corpus_summary: dict[str, Any], paragraphs: list[str],
                        train_ids: np.ndarray, heldout_ids: np.ndarray, heldout: dict[str, float], *,
                        tokens_seen: int, steps: int, final_loss: float | None, train_seconds: float,
                        budget_s: float, seed: int, device: torch.device) -> dict[str, Any]:
    """The model-card fields every trainer writes, from ``parameters`` to ``torch`` in card order: what was
    trained on, how long, and how well it scores the held-out stream (``heldout`` is ``stream_perplexity``'s
    result on ``heldout_ids``). One builder keeps bootstrap and distilled cards comparable field by field."""
    # Bits per byte compares models with different vocabularies; per-token perplexity does not.
    evaluated = heldout_ids[1: int(heldout["tokens"]) + 1].tolist()
    heldout_bytes = max(len(tokenizer.decode(evaluated).encode("utf-8")), 1)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "corpus": {**corpus_summary, "train_bytes_encoded": sum(len(p.encode()) + 1 for p in paragraphs)},
        "train_tokens_available": int(train_ids.size),
        "tokens_seen": tokens_seen,
        "epochs": round(tokens_seen / max(train_ids.size, 1), 3),
        "steps": steps,
        "final_train_loss": round(final_loss, 4) if final_loss is not None else None,
        "heldout_tokens": int(heldout["tokens"]),
        "heldout_perplexity": round(heldout["perplexity"], 3),
        "heldout_bits_per_byte": round(heldout["mean_nll"] * heldout["tokens"] / math.log(2) / heldout_bytes, 4),
        "train_seconds": round(train_seconds, 1),
        "wall_seconds": None,
        "max_minutes": budget_s / 60.0,
        "seed": seed,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def save_atomically(model: Any, tokenizer: Any, output_dir: Path,
                     card: dict[str, object], started: float, training_texts: list[str] | None = None,
                     index_writer: IndexWriter | None = None) -> None:
    """Model, tokenizer and card, swapped into place at once; with ``index_writer`` also the memorisation index
    of ``training_texts`` (``generator.ngram_index``), so the detector never calls text this model was trained on
    machine."""
    output_dir = Path(output_dir)
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = output_dir.with_name(output_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    if training_texts is not None and index_writer is not None:
        card["memorisation_index"] = index_writer(staging, training_texts)  # its digest, checked on load
    card["wall_seconds"] = round(time.monotonic() - started, 1)
    (staging / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    (staging / "README.md").write_text(render_card_markdown(card))
    previous = output_dir.with_name(output_dir.name + ".previous")
    if output_dir.exists():
        shutil.rmtree(previous, ignore_errors=True)
        output_dir.rename(previous)
    staging.rename(output_dir)
    shutil.rmtree(previous, ignore_errors=True)


def render_card_markdown(card: dict[str, object]) -> str:
    preset = card["preset"]
    corpus = card["corpus"]
    assert isinstance(preset, dict) and isinstance(corpus, dict)
    return "\n".join([
        "# Bootstrap GPT-2 (trained by `provenance model bootstrap`)",
        "",
        f"- Architecture: GPT2LMHeadModel, {preset['n_layer']} layers, {preset['n_embd']} hidden, "
        f"{preset['n_head']} heads, context {preset['context_length']}, vocabulary {card['vocab_size']}",
        f"- Parameters: {card['parameters']:,}",
        f"- Corpus: {corpus['files']} files, {corpus['bytes']:,} bytes, sha256 {corpus['sha256']}",
        f"- Tokens seen: {card['tokens_seen']:,} ({card['epochs']} epochs of {card['train_tokens_available']:,})",
        f"- Held-out perplexity: {card['heldout_perplexity']} on {card['heldout_tokens']:,} tokens "
        f"(1% of paragraphs, by md5); {card['heldout_bits_per_byte']} bits per byte",
        f"- Wall time: {card['wall_seconds']} s (training {card['train_seconds']} s) on {card['device']}, "
        f"{card['torch_threads']} threads, seed {card['seed']}",
        "",
    ])
