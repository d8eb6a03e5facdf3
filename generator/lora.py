"""LoRA domain adaptation of the generator: train low-rank adapters, save only them, apply them at load time.

Why LoRA: a domain (legal letters, support answers) needs the generator to sound like it, but a full
fine-tune means another multi-hundred-megabyte checkpoint per domain and a new weights hash everywhere.
Adapters (rank ``r`` updates of GPT-2's ``c_attn``/``c_proj``/``c_fc`` Conv1D projections, via peft with
``fan_in_fan_out``) are a few hundred kilobytes. The watermark is a logits processor, so it is untouched by
adaptation; the test checks that adapted output is still detected.

An adapter is only meaningful on the base it was trained on: ``adapter_card.json`` records the base
model's name and weights SHA-256, and loading refuses any other base with an error that names both.
Loading merges the adapter into the weights (``merge_and_unload``), so generation, int8 quantization and
manifests see a plain GPT-2; the loaded model's ``weights_sha256`` becomes a hash of (base, adapter).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from generator.errors import GeneratorError
from generator.hashing import file_sha256 as _file_sha256

ADAPTER_CARD = "adapter_card.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
TARGET_MODULES = ["c_attn", "c_proj", "c_fc"]


class AdapterError(GeneratorError):
    """An adapter folder is missing, unreadable, or was trained for another base model."""


@dataclass(frozen=True)
class AdapterInfo:
    """A checked adapter: where it is, what base it needs, and the identity of base + adapter."""

    directory: Path
    card: dict[str, Any]
    adapter_sha256: str

    @property
    def name(self) -> str:
        return self.directory.name

    def adapted_sha256(self, base_sha256: str | None) -> str:
        """Identity of the merged weights, so manifests, bundles and ONNX exports never mix them with the base."""
        return hashlib.sha256(f"{base_sha256}|lora|{self.adapter_sha256}".encode()).hexdigest()

    def apply(self, model: Any) -> Any:
        """Merge the adapter into ``model`` (a GPT2LMHeadModel) and return the plain merged model."""
        from peft import PeftModel

        try:
            merged = PeftModel.from_pretrained(model, str(self.directory)).merge_and_unload()
        except Exception as exc:  # peft raises size-mismatch RuntimeErrors, KeyErrors, ValueErrors
            raise AdapterError(f"adapter {self.directory} does not fit this model: {str(exc).splitlines()[0][:200]}",
                               hint="train the adapter on this base: provenance model adapt --corpus DIR") from exc
        return merged.eval()


def check_adapter(adapter: str | Path, *, base_name: str, base_sha256: str | None) -> AdapterInfo:
    """Read and check an adapter folder against the base model before any weights are loaded."""
    directory = Path(adapter).expanduser().resolve()
    card_path = directory / ADAPTER_CARD
    if not directory.is_dir() or not card_path.is_file():
        raise AdapterError(f"no LoRA adapter at {directory} (missing {ADAPTER_CARD})",
                           hint="point PROVENANCE_ADAPTER at a folder written by provenance model adapt")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AdapterError(f"adapter card {card_path} is unreadable: {exc}",
                           hint="re-run provenance model adapt") from exc
    weights = next((directory / name for name in ADAPTER_WEIGHTS if (directory / name).is_file()), None)
    if weights is None:
        raise AdapterError(f"adapter {directory} has no weights file ({' or '.join(ADAPTER_WEIGHTS)})",
                           hint="re-run provenance model adapt")
    base = card.get("base") or {}
    expected_sha = base.get("weights_sha256")
    if expected_sha != base_sha256 or (expected_sha is None and base.get("name") != base_name):
        raise AdapterError(
            f"adapter {directory.name} was trained for base model {base.get('name')} (weights "
            f"{str(expected_sha)[:12]}), not for {base_name} (weights {str(base_sha256)[:12]})",
            hint="set PROVENANCE_MODEL to the adapter's base model, or train an adapter for this one")
    return AdapterInfo(directory, card, _file_sha256(weights))


# -- training ---------------------------------------------------------------------------------------------
@dataclass
class AdaptProgress:
    phase: str
    fraction: float
    step: int = 0
    loss: float | None = None


@dataclass
class AdaptResult:
    output_dir: Path
    card: dict[str, Any]


def _heldout_perplexity(model: Any, ids: np.ndarray, block: int) -> float:
    from generator.perplexity import stream_perplexity

    return round(stream_perplexity(model, torch.from_numpy(ids.astype(np.int64)), block_size=block)["perplexity"], 3)


def adapt_generator(lm: Any, corpus_dir: Path, output_dir: Path, *, rank: int = 8, alpha: float | None = None,
                    max_minutes: float = 10.0, max_steps: int | None = None, block: int | None = None,
                    batch_size: int = 8, learning_rate: float = 1e-3, eval_tokens: int = 32_768, seed: int = 0,
                    heldout_percent: int = 5,
                    on_progress: Callable[[AdaptProgress], None] | None = None,
                    index_writer: Callable[[Path, list[str]], dict[str, Any]] | None = None) -> AdaptResult:
    """Fine-tune LoRA adapters of ``lm`` (a float ``LoadedModel``) on ``corpus_dir``; save only the adapter (and,
    with ``index_writer``, the memorisation index of the adaptation text: see ``train_bootstrap_model``)."""
    from peft import LoraConfig, get_peft_model

    from generator.bootstrap.corpus import read_corpus
    from generator.training import encode_paragraphs

    if rank <= 0:
        raise GeneratorError(f"--rank must be positive, got {rank}", hint="for example --rank 8")
    if lm.quantized:
        raise GeneratorError("LoRA training needs the float model", hint="unset PROVENANCE_QUANTIZE")
    started = time.monotonic()
    deadline = started + 60.0 * max_minutes
    report = on_progress or (lambda _p: None)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    base_sha = lm.weights_sha256
    report(AdaptProgress("reading corpus", 0.0))
    corpus = read_corpus(corpus_dir, heldout_percent=heldout_percent)  # domain corpora are small: hold out 5%
    block = min(block or lm.context_length, lm.context_length)
    train_ids = encode_paragraphs(lm.tokenizer, corpus.train)
    heldout_ids = encode_paragraphs(lm.tokenizer, corpus.heldout)[: eval_tokens + 1]
    if train_ids.size <= block + 1:
        raise GeneratorError(f"the domain corpus has only {train_ids.size} tokens; at least {block + 2} are needed",
                             hint="add more text to the corpus directory")
    if heldout_ids.size <= block + 1:
        block = max(min(block, (heldout_ids.size - 1) // 2), 8)
    model = lm.model
    model.eval()
    report(AdaptProgress("evaluating base", 0.0))
    before = _heldout_perplexity(model, heldout_ids, block)
    config = LoraConfig(r=rank, lora_alpha=alpha or 2 * rank, target_modules=TARGET_MODULES, lora_dropout=0.0,
                        fan_in_fan_out=True, bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.0)
    train_tensor = torch.from_numpy(train_ids.astype(np.int64))
    device = lm.device
    eval_reserve = 5.0 + 0.05 * 60.0 * max_minutes
    step, loss_ema = 0, None
    train_started = time.monotonic()
    peft_model.train()
    while True:
        now = time.monotonic()
        if max_steps is not None and step >= max_steps:
            break
        if now >= deadline - eval_reserve and step > 0:
            break
        fraction = step / max_steps if max_steps else min((now - train_started) /
                                                          max(deadline - eval_reserve - train_started, 1e-6), 1.0)
        for group in optimizer.param_groups:  # warm-up 5%, cosine to 10%: every run ends annealed
            group["lr"] = learning_rate * (min(fraction / 0.05, 1.0) if fraction < 0.05 else
                                           0.1 + 0.45 * (1 + math.cos(math.pi * (fraction - 0.05) / 0.95)))
        offsets = rng.integers(0, train_tensor.numel() - block - 1, size=batch_size)
        batch = (train_tensor[torch.from_numpy(offsets)[:, None] + torch.arange(block + 1)[None, :]]).to(device)
        logits = peft_model(input_ids=batch[:, :-1], attention_mask=torch.ones_like(batch[:, :-1])).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), batch[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        value = float(loss.detach())
        loss_ema = value if loss_ema is None else 0.9 * loss_ema + 0.1 * value
        report(AdaptProgress("training", fraction, step, loss_ema))
    train_seconds = time.monotonic() - train_started
    peft_model.eval()
    report(AdaptProgress("evaluating adapted", 1.0, step, loss_ema))
    after = _heldout_perplexity(peft_model, heldout_ids, block)
    card = {
        "kind": "lora-adapter",
        "base": {"name": lm.name, "weights_sha256": base_sha, "vocab_size": lm.vocab_size,
                 "context_length": lm.context_length},
        "rank": rank, "alpha": alpha or 2 * rank, "target_modules": TARGET_MODULES,
        "trainable_parameters": sum(p.numel() for p in trainable),
        "corpus": corpus.summary(),
        "steps": step, "tokens_seen": step * batch_size * block, "block": block, "batch_size": batch_size,
        "learning_rate": learning_rate, "train_seconds": round(train_seconds, 1),
        "heldout_tokens": int(min(heldout_ids.size - 1, ((heldout_ids.size - 1) // block) * block)),
        "domain_perplexity_before": before, "domain_perplexity_after": after,
        "seed": seed, "device": str(device), "torch_threads": torch.get_num_threads(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _save_adapter(peft_model, Path(output_dir), card, started, training_texts=corpus.train,
                  index_writer=index_writer)
    return AdaptResult(Path(output_dir), card)


def _save_adapter(peft_model: Any, output_dir: Path, card: dict[str, Any], started: float,
                  training_texts: list[str] | None = None,
                  index_writer: Callable[[Path, list[str]], dict[str, Any]] | None = None) -> None:
    """Adapter weights + config + card (+ the memorisation index of the adaptation text, see
    ``detect.memorisation``), written to a staging folder and renamed into place."""
    output_dir = output_dir.expanduser().resolve()
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = output_dir.with_name(output_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    peft_model.save_pretrained(str(staging))
    if training_texts is not None and index_writer is not None:
        card["memorisation_index"] = index_writer(staging, training_texts)  # its digest, checked on load
    card["wall_seconds"] = round(time.monotonic() - started, 1)
    (staging / ADAPTER_CARD).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    if output_dir.exists():
        shutil.rmtree(output_dir)
    staging.rename(output_dir)
