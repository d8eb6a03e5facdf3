"""Train a GPT-2 from scratch within a wall-clock budget and save it in Hugging Face format.

The learning-rate schedule runs on the fraction of the time budget spent (linear warm-up, cosine decay to
10%), so a 5-minute and a 15-minute run both end fully annealed instead of being cut mid-schedule. Time
for the final held-out evaluation and saving is reserved from measured step speed, so the whole command
finishes within ``max_minutes``. The model is written to a temporary directory and renamed into place,
so a crash never leaves a half-written checkpoint for the loader to pick up.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from generator.bootstrap.corpus import Corpus, read_corpus
from generator.bootstrap.presets import Preset
from generator.bootstrap.tokenizer import train_tokenizer
from generator.errors import CorpusError
from generator.perplexity import stream_perplexity
from generator.training import (
    IndexWriter,
    clipped_step,
    encode_paragraphs,
    lr_at,
    save_atomically,
    smoothed,
    take_bytes,
    trained_card_fields,
)


@dataclass
class TrainingProgress:
    """What the trainer reports after each step (the CLI turns it into a Rich progress bar)."""

    phase: str
    fraction: float
    step: int = 0
    loss: float | None = None
    tokens_per_second: float | None = None
    tokens_seen: int = 0


@dataclass
class BootstrapResult:
    output_dir: Path
    card: dict[str, object] = field(repr=False)


def _build_model(preset: Preset, vocab_size: int, eos_id: int) -> GPT2LMHeadModel:
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=preset.context_length,
        n_embd=preset.n_embd,
        n_layer=preset.n_layer,
        n_head=preset.n_head,
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,  # one pass over the data: dropout only slows learning
        bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id,
        tie_word_embeddings=True,
    )
    return GPT2LMHeadModel(config)


def train_bootstrap_model(
    corpus_dir: Path,
    output_dir: Path,
    preset: Preset,
    *,
    max_minutes: float | None = None,
    max_steps: int | None = None,
    seed: int = 0,
    device: torch.device | None = None,
    on_progress: Callable[[TrainingProgress], None] | None = None,
    index_writer: IndexWriter | None = None,
) -> BootstrapResult:
    """Train on every ``.txt`` file under ``corpus_dir``; returns the saved directory and its model card.

    ``index_writer`` (the application passes ``generator.ngram_index.write_model_index``; this layer never imports
    ``detect``) writes the index of the training text beside the model and returns its card, which goes into the
    model card under ``memorisation_index``."""
    started = time.monotonic()
    budget_s = 60.0 * (max_minutes if max_minutes is not None else preset.default_minutes)
    if budget_s <= 0:
        raise CorpusError("--max-minutes must be positive", hint="for example --max-minutes 15")
    deadline = started + budget_s
    device = device or torch.device("cpu")
    report = on_progress or (lambda _progress: None)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if device.type == "cpu":
        torch.set_num_threads(max(os.cpu_count() or 1, 1))

    report(TrainingProgress("reading corpus", 0.0))
    corpus: Corpus = read_corpus(corpus_dir)
    # Shuffle paragraphs (seeded) so the tokenizer sample and the encoded subset cover every file.
    train_paragraphs = [corpus.train[i] for i in rng.permutation(len(corpus.train))]
    train_paragraphs = take_bytes(train_paragraphs, preset.max_train_bytes)
    report(TrainingProgress("training tokenizer", 0.0))
    tokenizer = train_tokenizer(train_paragraphs, vocab_size=preset.vocab_size, context_length=preset.context_length,
                                sample_bytes=preset.tokenizer_sample_bytes)
    report(TrainingProgress("encoding corpus", 0.0))
    train_ids = encode_paragraphs(tokenizer, train_paragraphs)
    heldout_ids = encode_paragraphs(tokenizer, corpus.heldout)[: preset.eval_tokens + 1]
    block = preset.context_length
    if train_ids.size <= block + 1:
        raise CorpusError(f"the corpus has only {train_ids.size} tokens; at least {block + 2} are needed",
                          hint="add more text to the corpus directory")
    if heldout_ids.size <= block + 1:  # very small corpora: evaluate on the tail of the training stream
        heldout_ids = train_ids[-(block * 2 + 1):]

    model = _build_model(preset, len(tokenizer), tokenizer.eos_token_id).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=preset.learning_rate, betas=(0.9, 0.95))
    train_tensor = torch.from_numpy(train_ids.astype(np.int64))
    tokens_per_step = preset.batch_size * block
    train_started = time.monotonic()
    step, tokens_seen, loss_ema = 0, 0, None
    step_seconds = None
    n_eval_blocks = max((heldout_ids.size - 1) // block, 1)

    def reserve_seconds() -> float:
        # Evaluation is forward-only (about a third of a training step per token) but is priced at a full
        # step per token, plus saving, plus 2% of the budget: a loaded machine must still finish in time.
        safety = 10.0 + 0.02 * budget_s
        if step_seconds is None:
            return safety
        return safety + step_seconds * n_eval_blocks * block / tokens_per_step

    train_budget_end = deadline
    model.train()
    while True:
        now = time.monotonic()
        train_budget_end = deadline - reserve_seconds()
        if max_steps is not None and step >= max_steps:
            break
        if max_steps is None and now >= train_budget_end and step > 0:
            break
        if max_steps is None:
            span = max(train_budget_end - train_started, 1e-6)
            fraction = min((now - train_started) / span, 1.0)
        else:
            fraction = step / max_steps
        for group in optimizer.param_groups:
            group["lr"] = lr_at(fraction, preset)
        offsets = rng.integers(0, train_tensor.numel() - block - 1, size=preset.batch_size)
        index = torch.from_numpy(offsets)[:, None] + torch.arange(block + 1)[None, :]
        batch = train_tensor[index].to(device)
        step_started = time.monotonic()
        loss = _lm_loss(model, batch)
        clipped_step(model, optimizer, loss)
        step_seconds = smoothed(step_seconds, time.monotonic() - step_started, 0.1)
        step += 1
        tokens_seen += tokens_per_step
        loss_ema = smoothed(loss_ema, float(loss.detach()), 0.05)
        report(TrainingProgress("training", fraction, step, loss_ema,
                                tokens_seen / max(time.monotonic() - train_started, 1e-6), tokens_seen))

    train_seconds = time.monotonic() - train_started
    report(TrainingProgress("evaluating", 1.0, step, loss_ema, None, tokens_seen))
    model.eval()
    heldout = stream_perplexity(model, torch.from_numpy(heldout_ids.astype(np.int64)), block_size=block)
    card = {
        "architecture": "GPT2LMHeadModel",
        "preset": preset.as_dict(),
        **trained_card_fields(model, tokenizer, corpus.summary(), train_paragraphs, train_ids, heldout_ids, heldout,
                              tokens_seen=tokens_seen, steps=step, final_loss=loss_ema,
                              train_seconds=train_seconds, budget_s=budget_s, seed=seed, device=device),
        "machine": platform.machine(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save_atomically(model, tokenizer, output_dir, card, started, training_texts=train_paragraphs,
                     index_writer=index_writer)
    return BootstrapResult(output_dir=output_dir, card=card)


def _lm_loss(model: GPT2LMHeadModel, batch: torch.Tensor) -> torch.Tensor:
    inputs = batch[:, :-1]
    logits = model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).logits
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), batch[:, 1:].reshape(-1))


