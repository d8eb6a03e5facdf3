"""Dotted field paths (``post.body``) into decoded JSON objects, with a reason when the path does not lead to a
value: a missing key, or a list on the way (which element would be meant is not for the reader to guess)."""

from __future__ import annotations

from typing import Any

MISSING = object()


def split_path(dotted: str) -> list[str]:
    return [part for part in dotted.split(".") if part] or [dotted]


def lookup(record: Any, dotted: str) -> tuple[Any, str | None]:
    """(value, None) when every step finds a key; (MISSING, reason) when a key is absent or a step hits a list.

    A key containing a dot is found whole first, so ``{"a.b": 1}`` still answers ``a.b``."""
    if isinstance(record, dict) and dotted in record:
        return record[dotted], None
    value = record
    walked: list[str] = []
    for part in split_path(dotted):
        if isinstance(value, list):
            return MISSING, f'field "{".".join(walked)}" is a list (of {len(value)}); "{dotted}" needs an object'
        if not isinstance(value, dict) or part not in value:
            return MISSING, f'field "{dotted}" is missing'
        value = value[part]
        walked.append(part)
    return value, None


def text_value(record: Any, dotted: str) -> tuple[str | None, str | None]:
    """The string at ``dotted``, or a reason why there is none."""
    value, reason = lookup(record, dotted)
    if reason:
        return None, reason
    if value is None:
        return None, f'field "{dotted}" is missing'
    if not isinstance(value, str):
        return None, f'field "{dotted}" is a {type(value).__name__}, not a string'
    return value, None


def id_value(record: Any, dotted: str) -> str | None:
    """The source id at ``dotted`` as a string (at most 512 characters), or None."""
    value, reason = lookup(record, dotted)
    if reason or value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:512]
