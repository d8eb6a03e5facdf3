"""Input helpers shared by the commands that read files or stdin in bulk."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from provenance.cli.output import CliError


def open_input(source: str) -> BinaryIO:
    """``-`` is stdin; anything else must be an existing file (opened in binary: decoding is per line)."""
    if source == "-":
        return sys.stdin.buffer
    path = Path(source)
    if not path.is_file():
        raise CliError(f"input file {path} does not exist", hint="pass a text file, a JSONL file, or - for stdin")
    return path.open("rb")


def read_text_records(handle: BinaryIO) -> Iterator[tuple[Any, str | None, str | None]]:
    """(id, text, error) per non-blank line of ``{"id"?, "text"}`` JSONL. ``id`` is the line's own id, else its
    0-based line number; a bad line (invalid UTF-8 or JSON, not an object, no string ``text``) becomes an error
    naming its 1-based line, for that line only. The one reader behind every ``--jsonl`` command (detect,
    toxicity, watermark, pii), so they all accept and reject the same lines with the same words."""
    for number, raw in enumerate(handle):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            yield number, None, f"line {number + 1}: not valid UTF-8 (byte {exc.start})"
            continue
        except json.JSONDecodeError as exc:
            yield number, None, f"line {number + 1}: not valid JSON ({exc.msg})"
            continue
        if not isinstance(record, dict):
            yield number, None, f'line {number + 1}: expected an object like {{"id": ..., "text": ...}}'
            continue
        record_id = record.get("id", number)
        if not isinstance(record.get("text"), str):
            yield record_id, None, f'line {number + 1}: missing string field "text"'
            continue
        yield record_id, record["text"], None
