"""Errors the generator raises for bad input or missing models.

Each carries a ``hint``: the one thing the user can do about it. The CLI prints message and hint as two
short lines instead of a traceback.
"""

from __future__ import annotations


class GeneratorError(Exception):
    """Base class for user-facing generator errors."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class ModelNotFoundError(GeneratorError):
    """No checkpoint could be loaded from any source that was tried."""


class GenerationInputError(GeneratorError):
    """A prompt or decoding parameter cannot be used (too long, non-positive lengths, ...)."""


class CorpusError(GeneratorError):
    """A training corpus is missing, empty or not text."""
