"""Line-based inputs (JSONL, CSV, paragraphs): bounded lines with their end offsets, opened at a resume offset.

The offset counts bytes of the *decompressed* content. An uncompressed file is seeked to it; a compressed one is
decompressed and discarded up to it (no parsing, no staging), since gzip, bz2 and zstd streams cannot be
entered in the middle without an index the file does not carry.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from provenance.pipeline.formats.common import EXCERPT_CHARS, FileError
from provenance.pipeline.formats.compression import open_decompressed

SKIP_BLOCK = 1 << 20


def open_at(path: Path, compression: str | None, position: dict[str, Any] | None) -> tuple[BinaryIO, int, int]:
    """(stream, byte offset, line number) for reading ``path`` from ``position`` (or from the top)."""
    handle = open_decompressed(path, compression)
    offset = int(position.get("offset", 0)) if position else 0
    line = int(position.get("line", 0)) if position else 0
    if offset:
        if compression is None:
            handle.seek(offset)
        else:
            left = offset
            try:
                while left:
                    block = handle.read(min(left, SKIP_BLOCK))
                    if not block:
                        raise FileError(f"the file is shorter than the resume offset {offset:,}: it changed "
                                        "since the job started")
                    left -= len(block)
            except (EOFError, OSError) as exc:
                handle.close()
                raise FileError(f"{exc}, before the resume offset {offset:,}") from None
    return handle, offset, line


def bounded_lines(handle: BinaryIO, limit: int, offset: int = 0, number: int = 0) \
        -> Iterator[tuple[int, bytes, bool, int]]:
    """(line number, bytes, complete, end offset) per line; a line over ``limit`` bytes yields its start and is
    skipped; a compressed stream that is cut or corrupt ends the file with a ``FileError`` saying where."""
    readline = handle.readline
    while True:
        try:
            line = readline(limit + 1)
            if not line:
                return
            number += 1
            offset += len(line)
            if len(line) > limit and not line.endswith(b"\n"):
                head = line[:EXCERPT_CHARS * 4]
                while line and not line.endswith(b"\n"):  # drain the rest of the oversize line
                    line = readline(1 << 20)
                    offset += len(line)
                yield number, head, False, offset
                continue
        except (EOFError, OSError) as exc:
            raise FileError(f"{exc} (after line {number:,}, decompressed byte {offset:,}); the rest of the file "
                            "is not read") from None
        yield number, line, True, offset
