"""Consecutive fixed-size lists from any iterable: the CLI's scoring chunks and the pipeline's commit batches.

Python 3.12's ``itertools.batched`` does this (as tuples); the platform still supports 3.10."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items: bounded memory for inputs of any length."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
