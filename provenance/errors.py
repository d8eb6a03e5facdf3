"""The application's user-facing error: a message plus the one thing to do about it."""

from __future__ import annotations


class ProvenanceError(Exception):
    """Bad input or state detected by the application layer (files, flags, keys). The CLI prints it briefly."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
