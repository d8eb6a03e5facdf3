"""Watermarked, stamped generation: the one path the CLI, the demo and (later) the API generate through.

Every output gets the active watermark key's processor (unless watermarking is switched off) and a signed
manifest naming the model, decoding parameters and key. The storage issue writes manifests to the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from generator import Generation, LoadedModel, SamplingConfig, generate
from generator.stamping import build_manifest, sign_manifest
from provenance.keystore import KeyStore
from provenance.settings import Settings
from provenance.signals import signal_set
from provenance.signing import load_or_create_signing_key
from provenance.toxicity import ToxicityScreen, screen_generations, withheld_event
from watermark import WatermarkKey, WatermarkLogitsProcessor


@dataclass
class StampedGeneration:
    generation: Generation
    manifest: dict[str, Any]
    watermark: dict[str, Any] | None  # key_id, scheme, gamma, delta (never the secret)
    toxicity: dict[str, Any] | None = None  # {p_toxic, toxic, categories}; None = not screened (no bundle/off)
    withheld: bool = False  # toxic output: generation.text is "" (the manifest still records what was made)
    regenerations: int = 0  # toxic samples discarded and drawn again before this one


def watermark_summary(key: WatermarkKey) -> dict[str, Any]:
    return {"key_id": key.key_id, "scheme": key.scheme, "gamma": key.gamma, "delta": key.delta}


def model_summary(lm: LoadedModel) -> dict[str, Any]:
    return {"name": lm.name, "source": lm.source, "weights_sha256": lm.weights_sha256,
            "parameters": lm.parameters, "dtype": lm.info()["dtype"]}


def generate_stamped(settings: Settings, lm: LoadedModel, prompts: Sequence[str], sampling: SamplingConfig, *,
                     watermark: bool = True, requester: str | None = None, batch_size: int = 16,
                     on_batch_done: Callable[[int], None] | None = None,
                     toxicity: ToxicityScreen | None = None,
                     on_withheld: Callable[[dict[str, Any]], None] | None = None,
                     notice: Callable[[str], None] | None = None) -> list[StampedGeneration]:
    """Generate, screen for toxicity (``settings.toxicity_on_generation``), then watermark-stamp and sign.

    ``on_withheld`` receives one audit event per toxic sample: ``action`` "withheld" (with the manifest id)
    or "regenerated" (a discarded attempt), each with its score; ``notice`` gets the one-time "no toxicity
    bundle" message (default: a logging warning).
    """
    key = KeyStore(settings.home).active_or_create(lm.tokenizer).key if watermark else None
    processors = [WatermarkLogitsProcessor(key, lm.tokenizer)] if key is not None else []
    generations = generate(lm, prompts, sampling, logits_processors=processors, batch_size=batch_size,
                           on_batch_done=on_batch_done)
    if toxicity is None and settings.toxicity_on_generation != "off":
        toxicity = signal_set(settings).get("toxicity").loaded()  # once per process and bundle version
    screened = screen_generations(
        settings, generations, sampling, service=toxicity, notice=notice,
        regenerate=lambda again, config: generate(lm, again, config, logits_processors=processors,
                                                  batch_size=batch_size))
    signing_key = load_or_create_signing_key(settings.home)
    summary = watermark_summary(key) if key is not None else None
    model = model_summary(lm)
    decoding = sampling.as_dict()
    stamped = []
    for output in screened:
        generation = output.generation
        used = {**decoding, "seed": output.seed} if output.regenerations else decoding
        body = build_manifest(text=generation.text, prompt=generation.prompt, model=model, decoding=used,
                              watermark=summary, requester=requester, tokens=generation.tokens)
        manifest = sign_manifest(body, signing_key)
        released = replace(generation, text="") if output.withheld else generation
        stamped.append(StampedGeneration(released, manifest, summary, toxicity=output.toxicity,
                                         withheld=output.withheld, regenerations=output.regenerations))
        if on_withheld is not None:
            for event in output.discarded:
                on_withheld({**event, "requester": requester, "model": model["name"]})
            if output.withheld:
                on_withheld(withheld_event(output, toxicity, manifest_id=manifest.get("id"), requester=requester,
                                           model=model["name"]))
    return stamped
