"""What every format reader shares: options, the raw record tuple, text checks, excerpts, file-level errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

EXCERPT_CHARS = 300
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" makes of bytes that are not UTF-8


@dataclass(frozen=True)
class ReaderOptions:
    format: str = "auto"
    text_field: str = "text"
    id_field: str = "id"
    max_chars: int = 200_000

    @property
    def max_line_bytes(self) -> int:
        """A JSON line can hold at most this many bytes for a text of ``max_chars`` (\\uXXXX escapes included)."""
        return self.max_chars * 6 + 65_536


class RawRecord(NamedTuple):
    """One record of one file before numbering: ``text`` to score, or ``reason`` why it is quarantined.

    ``position`` is where reading resumes *after* this record (format-specific, JSON-serialisable); None means
    the record cannot be resumed after (the reader is then restarted and records are skipped by count)."""

    source_id: str | None
    text: str | None
    reason: str | None
    location: str
    excerpt: str | None = None
    position: dict[str, Any] | None = None


class FileError(Exception):
    """A whole file cannot be read (no such column, not the format it claims): one quarantine record for the
    file, and the scan goes on with the next file."""


def excerpt(data: bytes | str) -> str:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return text[:EXCERPT_CHARS]


def shape_excerpt(excerpt_text: str | None) -> str | None:
    """An excerpt with its content removed and its *shape* kept: every letter becomes ``x`` and every digit
    ``9``; punctuation, quotes, brackets and whitespace stay. This is what a quarantine record keeps when the
    store must not keep raw text (``PROVENANCE_STORE_RAW_TEXT`` off, the default): a malformed line is still
    diagnosable (``{"text": "xxxx xx xxxxx,`` shows the missing quote), but no name, number or word of
    somebody's document is stored."""
    if excerpt_text is None:
        return None
    return "".join("9" if ch.isdigit() else "x" if ch.isalpha() else ch if ch.isprintable() or ch in "\t\n" else "?"
                   for ch in excerpt_text)


def check_text(text: str, options: ReaderOptions) -> str | None:
    """Why ``text`` cannot be scored (empty, oversize, not UTF-8), or None."""
    if not text.strip():
        return "empty document"
    if len(text) > options.max_chars:
        return f"oversize document: {len(text):,} characters > limit {options.max_chars:,}"
    if _ESCAPED_BYTES.search(text):
        return "undecodable bytes (not UTF-8)"
    return None


def text_record(source_id: str | None, text: str, location: str, options: ReaderOptions,
                position: dict[str, Any] | None) -> RawRecord:
    """A record for ``text``, quarantined with a reason when ``check_text`` refuses it."""
    reason = check_text(text, options)
    if reason:
        return RawRecord(source_id, None, reason, location, excerpt(text), position)
    return RawRecord(source_id, text, None, location, None, position)
