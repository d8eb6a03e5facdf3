"""GPT-2 model layer: loading (with an offline default), batched generation, int8, bootstrap training.

A library: no database, no web code. The application layer (`provenance`) passes settings in.
"""

from generator.errors import CorpusError, GenerationInputError, GeneratorError, ModelNotFoundError
from generator.generation import Generation, SamplingConfig, generate
from generator.loading import LoadedModel, ModelRequest, load_model, resolve_model

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
