"""User-facing errors of the detection library (the CLI prints them as ``error:``/``hint:`` lines)."""

from __future__ import annotations


class DetectionError(Exception):
    """A problem the user can fix: bad data, a missing or mismatched bundle."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class BundleMismatchError(DetectionError):
    """The bundle was trained for another scorer model or tokenizer."""
