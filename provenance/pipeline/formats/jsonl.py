"""JSON Lines: one object per line, text and id found by dotted path (``--text-field post.body``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provenance.pipeline.formats.common import RawRecord, ReaderOptions, excerpt, text_record
from provenance.pipeline.formats.fields import id_value, text_value
from provenance.pipeline.formats.lines import bounded_lines, open_at


def read_jsonl(path: Path, compression: str | None, options: ReaderOptions,
               position: dict[str, Any] | None = None) -> Iterator[RawRecord]:
    handle, offset, first_line = open_at(path, compression, position)
    loads = json.loads
    text_field, id_field = options.text_field, options.id_field
    with handle:
        for number, raw, complete, end in bounded_lines(handle, options.max_line_bytes, offset, first_line):
            at = {"offset": end, "line": number}
            location = f"{path}:{number}"
            if not complete:
                yield RawRecord(None, None, f"oversize line: more than {options.max_line_bytes:,} bytes", location,
                                excerpt(raw), at)
                continue
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield RawRecord(None, None, f"undecodable bytes (not UTF-8) at byte {exc.start}", location,
                                excerpt(raw), at)
                continue
            try:
                record = loads(line)
            except json.JSONDecodeError as exc:
                yield RawRecord(None, None, f"malformed JSON: {exc.msg} at column {exc.colno}", location,
                                excerpt(line), at)
                continue
            except (ValueError, RecursionError) as exc:  # an integer too long, nesting too deep
                yield RawRecord(None, None, f"malformed JSON: {exc}"[:300], location, excerpt(line), at)
                continue
            if not isinstance(record, dict):
                yield RawRecord(f"{path.name}:{number}", None, "not a JSON object", location, excerpt(line), at)
                continue
            source_id = id_value(record, id_field) or f"{path.name}:{number}"
            text, reason = text_value(record, text_field)
            if reason:
                yield RawRecord(source_id, None, reason, location, excerpt(line), at)
                continue
            yield text_record(source_id, text, location, options, at)
