"""Input helpers shared by the commands that read files or stdin in bulk."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from provenance.cli.output import CliError

T = TypeVar("T")


def open_input(source: str) -> BinaryIO:
    """``-`` is stdin; anything else must be an existing file (opened in binary: decoding is per line)."""
    if source == "-":
        return sys.stdin.buffer
    path = Path(source)
    if not path.is_file():
        raise CliError(f"input file {path} does not exist", hint="pass a text file, a JSONL file, or - for stdin")
    return path.open("rb")


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
