"""Knowledge distillation: train a small GPT-2 student on a teacher's soft targets, for a faster scorer.

Why: detection cost is the scorer's forward pass, so a student a few times smaller scans dumps a few times
faster. The student shares the teacher's tokenizer (KL on logits needs the same vocabulary) and context
length (so it scores texts with the same windows), and takes its depth and width from a bootstrap preset.
Loss = ``alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(labels)`` (Hinton et al.; the ``T^2``
keeps gradient scale independent of the temperature). The time budget, LR schedule, evaluation reserve,
atomic save and model card are the bootstrap trainer's, so a distilled model loads like any checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from generator import training  # the helpers the bootstrap trainer shares (one module, named as such)
from generator.bootstrap.corpus import read_corpus
from generator.bootstrap.presets import Preset
from generator.bootstrap.trainer import BootstrapResult, TrainingProgress
from generator.errors import CorpusError, GeneratorError
from generator.perplexity import stream_perplexity


def build_student(teacher: Any, preset: Preset) -> GPT2LMHeadModel:
    """A GPT-2 of the preset's depth/width with the teacher's vocabulary, context and special tokens."""
    config = teacher.model.config
    if preset.n_layer * preset.n_embd >= config.n_layer * config.n_embd:
        raise GeneratorError(f"preset {preset.name!r} ({preset.n_layer}x{preset.n_embd}) is not smaller than the "
                             f"teacher ({config.n_layer}x{config.n_embd})", hint="choose a smaller --preset")
    student = GPT2Config(vocab_size=config.vocab_size, n_positions=config.n_positions, n_embd=preset.n_embd,
                         n_layer=preset.n_layer, n_head=preset.n_head, resid_pdrop=0.0, embd_pdrop=0.0,
                         attn_pdrop=0.0, bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
                         pad_token_id=config.pad_token_id, tie_word_embeddings=True)
    return GPT2LMHeadModel(student)


def student_from_layers(teacher: Any, layers: Sequence[int]) -> GPT2LMHeadModel:
    """A shallower copy of the teacher: its embeddings, final norm and the chosen blocks, in order.

    Why: a student trained from scratch on two CPU cores learns little in minutes (the teacher's forward pass
    dominates each step), while one initialised from the teacher's own blocks (DistilBERT's recipe) starts
    as a working language model and only needs a short distillation to re-knit the dropped layers. It keeps the
    teacher's width, so it is a faster scorer only in depth, and a second model that shares the tokenizer
    (what Binoculars needs) at once.
    """
    config = teacher.model.config
    chosen = list(layers)
    if not chosen or len(set(chosen)) != len(chosen) or any(not 0 <= i < config.n_layer for i in chosen):
        raise GeneratorError(f"--keep-layers must name distinct teacher blocks in 0..{config.n_layer - 1}, "
                             f"got {chosen}", hint="for example --keep-layers 0,2,5")
    if len(chosen) >= config.n_layer:
        raise GeneratorError(f"keeping {len(chosen)} of {config.n_layer} blocks is not a smaller student",
                             hint="keep fewer blocks")
    student = GPT2LMHeadModel(GPT2Config(**{**config.to_dict(), "n_layer": len(chosen), "resid_pdrop": 0.0,
                                            "embd_pdrop": 0.0, "attn_pdrop": 0.0}))
    source = teacher.model.state_dict()
    state = {}
    for name in student.state_dict():
        if name.startswith("transformer.h."):
            index, rest = name.removeprefix("transformer.h.").split(".", 1)
            state[name] = source[f"transformer.h.{chosen[int(index)]}.{rest}"]
        else:
            state[name] = source[name]
    student.load_state_dict({name: value.float() for name, value in state.items()})
    return student


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, *,
                      temperature: float, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(total loss, plain LM loss) for one batch; logits are ``(tokens, vocab)``."""
    lm_loss = F.cross_entropy(student_logits, labels)
    kl = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                  F.log_softmax(teacher_logits / temperature, dim=-1), log_target=True, reduction="batchmean")
    return alpha * temperature ** 2 * kl + (1 - alpha) * lm_loss, lm_loss


def distill_model(teacher: Any, corpus_dir: Path, output_dir: Path, preset: Preset, *,
                  max_minutes: float | None = None, max_steps: int | None = None, temperature: float = 2.0,
                  alpha: float = 0.5, seed: int = 0, device: torch.device | None = None,
                  on_progress: Callable[[TrainingProgress], None] | None = None,
                  keep_layers: Sequence[int] | None = None,
                  learning_rate: float | None = None,
                  index_writer: training.IndexWriter | None = None) -> BootstrapResult:
    """Distil ``teacher`` (a float ``LoadedModel``) into a preset-sized student; returns its directory and card.

    ``keep_layers``: initialise the student from these teacher blocks (``student_from_layers``); the preset then
    sets only the schedule and data sizes, and the learning rate defaults to a tenth of the preset's (fine-tuning
    a working model, not training one)."""
    if teacher.quantized:
        raise GeneratorError("the teacher must be a float model", hint="unset PROVENANCE_QUANTIZE")
    if not 0.0 <= alpha <= 1.0 or temperature <= 0:
        raise GeneratorError(f"need 0 <= alpha <= 1 and temperature > 0 (got {alpha}, {temperature})",
                             hint="the defaults are alpha 0.5, temperature 2")
    started = time.monotonic()
    budget_s = 60.0 * (max_minutes if max_minutes is not None else preset.default_minutes)
    if budget_s <= 0:
        raise CorpusError("--max-minutes must be positive", hint="for example --max-minutes 15")
    deadline = started + budget_s
    device = device or teacher.device
    report = on_progress or (lambda _progress: None)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if device.type == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(max(os.cpu_count() or 1, 1))

    report(TrainingProgress("reading corpus", 0.0))
    corpus = read_corpus(corpus_dir)
    shuffled = [corpus.train[i] for i in rng.permutation(len(corpus.train))]
    paragraphs = training.take_bytes(shuffled, preset.max_train_bytes)
    tokenizer = teacher.tokenizer
    report(TrainingProgress("encoding corpus", 0.0))
    train_ids = training.encode_paragraphs(tokenizer, paragraphs)
    heldout_ids = training.encode_paragraphs(tokenizer, corpus.heldout)[: preset.eval_tokens + 1]
    block = int(teacher.context_length)
    batch_size = max(preset.batch_size * preset.context_length // block, 1)  # the preset's tokens per step
    if train_ids.size <= block + 1:
        raise CorpusError(f"the corpus has only {train_ids.size} tokens; at least {block + 2} are needed",
                          hint="add more text to the corpus directory")
    if heldout_ids.size <= block + 1:
        heldout_ids = train_ids[-(block * 2 + 1):]

    teacher_model = teacher.model.eval()
    if keep_layers:
        model = student_from_layers(teacher, keep_layers).to(device)
        preset = dataclasses.replace(preset, learning_rate=learning_rate or preset.learning_rate / 10,
                                     n_layer=len(keep_layers), n_embd=int(teacher.model.config.n_embd),
                                     n_head=int(teacher.model.config.n_head))
    else:
        model = build_student(teacher, preset).to(device)
        if learning_rate:
            preset = dataclasses.replace(preset, learning_rate=learning_rate)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=preset.learning_rate, betas=(0.9, 0.95))
    train_tensor = torch.from_numpy(train_ids.astype(np.int64))
    tokens_per_step = batch_size * block
    n_eval_blocks = max((heldout_ids.size - 1) // block, 1)
    step, tokens_seen, loss_ema, lm_ema, step_seconds = 0, 0, None, None, None
    train_started = time.monotonic()
    model.train()
    while True:
        now = time.monotonic()
        reserve = 10.0 + 0.02 * budget_s + (step_seconds or 0.0) * n_eval_blocks * 2 / batch_size
        train_end = deadline - reserve
        if max_steps is not None and step >= max_steps:
            break
        if now >= train_end and step > 0:
            break
        fraction = step / max_steps if max_steps else min((now - train_started) / max(train_end - train_started,
                                                                                        1e-6), 1.0)
        for group in optimizer.param_groups:
            group["lr"] = training.lr_at(fraction, preset)
        offsets = rng.integers(0, train_tensor.numel() - block - 1, size=batch_size)
        batch = train_tensor[torch.from_numpy(offsets)[:, None] + torch.arange(block + 1)[None, :]].to(device)
        step_started = time.monotonic()
        inputs, labels = batch[:, :-1], batch[:, 1:].reshape(-1)
        mask, vocab = torch.ones_like(inputs), model.config.vocab_size
        with torch.inference_mode():
            teacher_logits = teacher_model(input_ids=inputs, attention_mask=mask).logits.float().reshape(-1, vocab)
        student_logits = model(input_ids=inputs, attention_mask=mask).logits.float().reshape(-1, vocab)
        loss, lm_loss = distillation_loss(student_logits, teacher_logits.clone(), labels,
                                          temperature=temperature, alpha=alpha)
        training.clipped_step(model, optimizer, loss)
        step_seconds = training.smoothed(step_seconds, time.monotonic() - step_started, 0.1)
        step += 1
        tokens_seen += tokens_per_step
        loss_ema = training.smoothed(loss_ema, float(loss.detach()), 0.05)
        lm_ema = training.smoothed(lm_ema, float(lm_loss.detach()), 0.05)
        report(TrainingProgress("distilling", fraction, step, lm_ema,
                                tokens_seen / max(time.monotonic() - train_started, 1e-6), tokens_seen))

    train_seconds = time.monotonic() - train_started
    report(TrainingProgress("evaluating", 1.0, step, lm_ema, None, tokens_seen))
    model.eval()
    ids = torch.from_numpy(heldout_ids.astype(np.int64))
    student_eval = stream_perplexity(model, ids, block_size=block)
    teacher_eval = stream_perplexity(teacher_model, ids.to(teacher.device), block_size=block)
    card = {
        "architecture": "GPT2LMHeadModel",
        "method": "distillation",
        "initialised_from_teacher_layers": list(keep_layers) if keep_layers else None,
        "preset": {**preset.as_dict(), "context_length": block, "batch_size": batch_size},
        "teacher": {"name": teacher.name, "weights_sha256": teacher.weights_sha256, "parameters": teacher.parameters,
                    "heldout_perplexity": round(teacher_eval["perplexity"], 3)},
        "distillation": {"temperature": temperature, "alpha": alpha,
                         "loss": "alpha*T^2*KL(teacher_T||student_T) + (1-alpha)*CE"},
        **training.trained_card_fields(model, tokenizer, corpus.summary(), paragraphs, train_ids, heldout_ids,
                                       student_eval, tokens_seen=tokens_seen, steps=step, final_loss=lm_ema,
                                       train_seconds=train_seconds, budget_s=budget_s, seed=seed, device=device),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    training.save_atomically(model, tokenizer, Path(output_dir), card, started, training_texts=paragraphs,
                     index_writer=index_writer)
    readme = Path(output_dir) / "README.md"
    readme.write_text(readme.read_text().replace("# Bootstrap GPT-2 (trained by `provenance model bootstrap`)",
                                                 f"# Distilled GPT-2 (`provenance model distill`, teacher "
                                                 f"{teacher.name}, held-out perplexity "
                                                 f"{card['teacher']['heldout_perplexity']})"))
    return BootstrapResult(output_dir=Path(output_dir), card=card)
