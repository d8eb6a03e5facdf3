"""The PII library's user-facing error: a message plus the one thing to do about it (the CLI prints both)."""

from __future__ import annotations


class PIIError(Exception):
    """Bad configuration, key or input detected by ``detect.pii``; never raised for one bad document."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
