"""Plain text: one document per blank-line-separated paragraph of a file, or one per ``.txt`` file of a
directory (which the directory walker hands to :func:`read_whole_file`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provenance.pipeline.formats.common import EXCERPT_CHARS, RawRecord, ReaderOptions, excerpt, text_record
from provenance.pipeline.formats.lines import bounded_lines, open_at


def read_paragraphs(path: Path, compression: str | None, options: ReaderOptions,
                    position: dict[str, Any] | None = None) -> Iterator[RawRecord]:
    """Paragraphs, read line by line; a paragraph over the size limit is quarantined with its first bytes."""
    handle, offset, first_line = open_at(path, compression, position)
    paragraph = int(position.get("paragraph", 0)) if position else 0
    lines: list[bytes] = []
    size = 0
    start_line = first_line + 1
    number = first_line
    oversize = False

    def flush(end: int, line: int) -> RawRecord:
        data = b"".join(lines)
        location = f"{path}:{start_line}"
        source_id = f"{path.name}#{paragraph}"
        at = {"offset": end, "line": line, "paragraph": paragraph}
        if oversize:
            return RawRecord(source_id, None, f"oversize paragraph: more than {options.max_chars:,} characters",
                             location, excerpt(data), at)
        try:
            text = data.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            return RawRecord(source_id, None, f"undecodable bytes (not UTF-8) at byte {exc.start}", location,
                             excerpt(data), at)
        return text_record(source_id, text, location, options, at)

    with handle:
        end = offset
        for number, raw, complete, end in bounded_lines(handle, options.max_line_bytes, offset, first_line):
            if complete and not raw.strip():
                if lines or oversize:
                    paragraph += 1
                    yield flush(end, number)
                lines, size, oversize = [], 0, False
                start_line = number + 1
                continue
            if not complete or size + len(raw) > options.max_chars * 4:
                if not oversize:
                    lines = [raw[:EXCERPT_CHARS * 4]] if not lines else lines[:1]
                oversize = True
                continue
            if not oversize:
                lines.append(raw)
                size += len(raw)
        if lines or oversize:
            paragraph += 1
            yield flush(end, number)


def read_whole_file(path: Path, source_id: str, options: ReaderOptions) -> RawRecord:
    """One document: the whole file (oversize files are quarantined with their first bytes, never read whole)."""
    location = str(path)
    size = path.stat().st_size
    if size > options.max_chars * 4:
        with path.open("rb") as handle:
            head = handle.read(EXCERPT_CHARS * 4)
        return RawRecord(source_id, None, f"oversize file: {size:,} bytes", location, excerpt(head))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RawRecord(source_id, None, f"undecodable bytes (not UTF-8) at byte {exc.start}", location,
                         excerpt(data))
    return text_record(source_id, text, location, options, None)
