"""Compressed inputs: gzip, zstd and bz2 recognised by their magic bytes (an extension may lie), decompressed as a
stream in constant memory, and a stream cut in the middle reported as such (``EOFError``), never read as a
shorter but complete file (zstandard's own stream reader stops silently on a cut frame)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
BZ2_MAGIC = b"BZh"
COMPRESSED_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
READ_SIZE = 1 << 18


def sniff_compression(head: bytes) -> str | None:
    """``gzip``, ``zstd``, ``bz2`` or None (not compressed), from the first bytes of a file."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(BZ2_MAGIC) and len(head) >= 4 and head[3:4].isdigit():
        return "bz2"
    return None


def _decompressor(kind: str) -> Callable[[], Any]:
    if kind == "gzip":
        import zlib

        return lambda: zlib.decompressobj(wbits=31)
    if kind == "bz2":
        import bz2

        return bz2.BZ2Decompressor
    if kind == "zstd":
        import zstandard

        context = zstandard.ZstdDecompressor()
        return context.decompressobj
    raise ValueError(kind)


class DecompressingReader(io.RawIOBase):
    """Raw stream of the decompressed bytes of a file of one or more concatenated members (gzip members, bz2
    streams, zstd frames); raises ``EOFError`` when the file ends inside a member."""

    def __init__(self, handle: BinaryIO, kind: str) -> None:
        self._handle = handle
        self._kind = kind
        self._new = _decompressor(kind)
        self._engine: Any = None  # None between members
        self._pending = memoryview(b"")
        self._input_done = False
        self._cut: EOFError | None = None  # raised once everything before the cut has been delivered
        self._delivered = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        """Decompressed bytes delivered so far (warcio asks where each record starts)."""
        return self._delivered

    def readinto(self, buffer: Any) -> int:
        while not len(self._pending):
            if self._input_done:
                if self._cut is not None:
                    cut, self._cut = self._cut, None
                    raise cut
                return 0
            self._fill()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self._delivered += size
        return size

    def _fill(self) -> None:
        data = self._handle.read(READ_SIZE)
        if not data:
            self._input_done = True
            if self._engine is not None:
                self._cut = EOFError(f"{self._kind} stream cut in the middle (the file ends inside a compressed "
                                     "member)")
            return
        out = []
        while data:
            if self._engine is None:
                if not data.strip(b"\x00"):  # padding after the last member
                    break
                self._engine = self._new()
            try:
                out.append(self._engine.decompress(data))
            except Exception as exc:  # zlib.error, OSError (bz2), zstandard.ZstdError
                raise OSError(f"corrupt {self._kind} data: {exc}") from None
            if not self._engine.eof:
                break
            data = self._engine.unused_data
            self._engine = None
        self._pending = memoryview(b"".join(out))

    def close(self) -> None:
        self._handle.close()
        super().close()


def open_decompressed(path: Path, kind: str | None) -> BinaryIO:
    """A buffered binary stream of ``path``'s content, decompressed when ``kind`` names a compression."""
    handle = path.open("rb")
    if kind is None:
        return handle
    return io.BufferedReader(DecompressingReader(handle, kind), buffer_size=1 << 16)


def strip_compression_suffix(name: str) -> str:
    """``dump.jsonl.gz`` -> ``dump.jsonl`` (the extension that says the format inside)."""
    lower = name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name
