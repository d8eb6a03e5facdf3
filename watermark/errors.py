"""Errors the watermark library raises.

Every message is safe to show to a user or write to a log: none ever contains a key's secret, only its
public ``key_id``.
"""

from __future__ import annotations


class WatermarkError(Exception):
    """Base class for watermark errors."""


class WatermarkKeyMismatchError(WatermarkError):
    """A key does not belong to this tokenizer, or its secret/parameters do not match the recorded key_id.

    Detection with the wrong tokenizer or parameters would silently report "not watermarked"; refusing is
    the only honest answer.
    """


class WatermarkInputError(WatermarkError, ValueError):
    """The text or token ids cannot be examined at all (invalid UTF-8, wrong type, too large)."""
