"""Watermarked, stamped generation: the one path the CLI, the demo and (later) the API generate through.

Every output gets the active watermark key's processor (unless watermarking is switched off) and a signed
manifest naming the model, decoding parameters and key. The storage issue writes manifests to the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from generator import Generation, LoadedModel, SamplingConfig, generate
from generator.stamping import build_manifest, sign_manifest
from provenance.keystore import KeyStore
from provenance.settings import Settings
from provenance.signing import load_or_create_signing_key
from watermark import WatermarkKey, WatermarkLogitsProcessor


@dataclass
class StampedGeneration:
    generation: Generation
    manifest: dict[str, Any]
    watermark: dict[str, Any] | None  # key_id, scheme, gamma, delta (never the secret)


def watermark_summary(key: WatermarkKey) -> dict[str, Any]:
    return {"key_id": key.key_id, "scheme": key.scheme, "gamma": key.gamma, "delta": key.delta}


def model_summary(lm: LoadedModel) -> dict[str, Any]:
    return {"name": lm.name, "source": lm.source, "weights_sha256": lm.weights_sha256,
            "parameters": lm.parameters, "dtype": lm.info()["dtype"]}


def generate_stamped(settings: Settings, lm: LoadedModel, prompts: Sequence[str], sampling: SamplingConfig, *,
                     watermark: bool = True, requester: str | None = None, batch_size: int = 16,
                     on_batch_done: Callable[[int], None] | None = None) -> list[StampedGeneration]:
    key = KeyStore(settings.home).active_or_create(lm.tokenizer).key if watermark else None
    processors = [WatermarkLogitsProcessor(key, lm.tokenizer)] if key is not None else []
    generations = generate(lm, prompts, sampling, logits_processors=processors, batch_size=batch_size,
                           on_batch_done=on_batch_done)
    signing_key = load_or_create_signing_key(settings.home)
    summary = watermark_summary(key) if key is not None else None
    model = model_summary(lm)
    decoding = sampling.as_dict()
    stamped = []
    for generation in generations:
        body = build_manifest(text=generation.text, prompt=generation.prompt, model=model, decoding=decoding,
                              watermark=summary, requester=requester, tokens=generation.tokens)
        stamped.append(StampedGeneration(generation, sign_manifest(body, signing_key), summary))
    return stamped
