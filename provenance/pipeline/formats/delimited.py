"""CSV and TSV with a header row; the header is read again on resume, then the file continues at the offset."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provenance.pipeline.formats.common import FileError, RawRecord, ReaderOptions, excerpt, text_record
from provenance.pipeline.formats.compression import strip_compression_suffix
from provenance.pipeline.formats.lines import bounded_lines, open_at


class _Lines:
    """Decoded lines for ``csv.reader``, remembering the byte offset and line number of the last one consumed
    (a quoted field may span lines) and whether any of them was over the size limit."""

    def __init__(self, handle, limit: int, offset: int, number: int) -> None:
        self._source = bounded_lines(handle, limit, offset, number)
        self.offset, self.number, self.oversize = offset, number, False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        number, raw, complete, end = next(self._source)
        self.number, self.offset = number, end
        self.oversize = self.oversize or not complete
        return raw.decode("utf-8", errors="surrogateescape")


def read_delimited(path: Path, compression: str | None, options: ReaderOptions,
                   position: dict[str, Any] | None = None) -> Iterator[RawRecord]:
    csv.field_size_limit(max(options.max_chars * 4, 1 << 20))
    delimiter = "\t" if strip_compression_suffix(path.name).lower().endswith(".tsv") else ","
    handle, _, _ = open_at(path, compression, None)
    try:
        lines = _Lines(handle, options.max_line_bytes, 0, 0)
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileError(f"unreadable CSV header ({exc})") from None
        if options.text_field not in header:
            raise FileError(f'no column "{options.text_field}" (columns: {", ".join(header)}); choose the text '
                            "column with --text-field")
        text_at = header.index(options.text_field)
        id_at = header.index(options.id_field) if options.id_field in header else None
        row_number = int(position.get("row", 1)) if position else 1
        if position:
            handle.close()
            handle, offset, number = open_at(path, compression, position)
            lines = _Lines(handle, options.max_line_bytes, offset, number)
            reader = csv.reader(lines, delimiter=delimiter)
        while True:
            lines.oversize = False
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                row_number += 1
                yield RawRecord(None, None, f"malformed CSV row: {exc}", f"{path}:row {row_number}", None,
                                {"offset": lines.offset, "line": lines.number, "row": row_number})
                continue
            row_number += 1
            at = {"offset": lines.offset, "line": lines.number, "row": row_number}
            location = f"{path}:line {lines.number}"
            if not row or not any(cell.strip() for cell in row):
                continue
            source_id = row[id_at][:512] if id_at is not None and id_at < len(row) else f"{path.name}:{row_number}"
            if lines.oversize:
                yield RawRecord(source_id, None, f"oversize line: more than {options.max_line_bytes:,} bytes",
                                location, None, at)
                continue
            if len(row) != len(header):
                yield RawRecord(source_id, None, f"malformed CSV row: {len(row)} fields, header has {len(header)}",
                                location, excerpt(",".join(row)), at)
                continue
            yield text_record(source_id, row[text_at], location, options, at)
    finally:
        handle.close()
