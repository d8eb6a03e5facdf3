"""Turn settings into loaded libraries: the one place the application decides how models are loaded."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from provenance.settings import Settings

if TYPE_CHECKING:  # torch and transformers load when a model or tokenizer is, not when this module is imported
    from generator import LoadedModel, ModelRequest


def model_request(settings: Settings, model: str | None = None) -> ModelRequest:
    from generator.loading import ModelRequest

    return ModelRequest(
        name=model or settings.model,
        bootstrap_dir=settings.bootstrap_model_dir,
        device=settings.device,
        dtype=settings.dtype,
        quantize=settings.quantize,
        hub_timeout=settings.hub_timeout,
        offline=settings.offline,
        token=settings.hf_token.get_secret_value() if settings.hf_token else None,
        adapter=settings.adapter if model is None or model == settings.model else None,  # LoRA on the generator
    )


def configure_torch(settings: Settings) -> None:
    """Apply the thread setting (workers running side by side set 1 each to avoid oversubscription)."""
    threads = settings.torch_threads or int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or None
    if threads:
        import torch

        torch.set_num_threads(threads)


def load_configured_model(settings: Settings, model: str | None = None) -> LoadedModel:
    from generator.loading import resolve_model

    configure_torch(settings)
    loaded = resolve_model(model_request(settings, model))
    if model is None or model == settings.model:  # the platform's model (not a separately named scorer)
        from provenance.home import note_resolved

        note_resolved(settings.home, loaded.path or loaded.name, loaded.source, loaded.path)
    return loaded


def load_configured_tokenizer(settings: Settings, model: str | None = None) -> tuple[Any, Any]:
    """The resolved model's tokenizer only (model-free detection and key management need nothing more)."""
    from generator.loading import load_tokenizer

    tokenizer, found = load_tokenizer(model_request(settings, model))
    if model is None or model == settings.model:
        from provenance.home import note_resolved

        note_resolved(settings.home, found.location, found.source, found.path)
    return tokenizer, found
