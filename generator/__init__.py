"""GPT-2 model layer: loading (with an offline default), batched generation, int8, bootstrap training.

A library: no database, no web code. The application layer (`provenance`) passes settings in.

The names below load lazily (PEP 562): ``generator.stamping`` (numpy + cryptography) and
``generator.errors`` are used by the store, the submission path and the CLI's light commands, which must not
pay for importing torch and transformers just to reach them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from generator.errors import CorpusError, GenerationInputError, GeneratorError, ModelNotFoundError

if TYPE_CHECKING:
    from generator.generation import Generation, SamplingConfig, generate
    from generator.loading import LoadedModel, ModelRequest, load_model, resolve_model

_LAZY = {
    "Generation": "generator.generation",
    "SamplingConfig": "generator.generation",
    "generate": "generator.generation",
    "LoadedModel": "generator.loading",
    "ModelRequest": "generator.loading",
    "load_model": "generator.loading",
    "resolve_model": "generator.loading",
}

__all__ = [
    "CorpusError",
    "Generation",
    "GenerationInputError",
    "GeneratorError",
    "LoadedModel",
    "ModelNotFoundError",
    "ModelRequest",
    "SamplingConfig",
    "generate",
    "load_model",
    "resolve_model",
]


def __getattr__(name: str) -> Any:
    """Import the torch-backed part of the package on first use of one of its names."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'generator' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
