"""Stream scan inputs as records, in constant memory, turning every bad record into a reason instead of an error.

Formats: JSONL (one object per line), CSV (header row), plain text (one document per blank-line-separated
paragraph) and directories of ``.txt`` files (one document per file). Records are numbered in input order
(``seq``), which is what makes ``provenance scan --resume`` exact: the same inputs give the same sequence.
Lines are read with a byte limit, so a single multi-gigabyte line never lands in memory.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from provenance.errors import ProvenanceError

FORMATS = ("auto", "jsonl", "txt", "csv")
EXCERPT_CHARS = 300
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
CSV_SUFFIXES = {".csv", ".tsv"}
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]")  # what errors="surrogateescape" makes of bytes that are not UTF-8


@dataclass(frozen=True)
class InputRecord:
    """One input record: ``text`` to score, or ``reason`` why it is quarantined (then ``text`` is None)."""

    seq: int
    source_id: str | None
    text: str | None
    reason: str | None
    location: str
    excerpt: str | None = None


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


def _excerpt(data: bytes | str) -> str:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return text[:EXCERPT_CHARS]


def _bounded_lines(handle: io.BufferedReader, limit: int) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes, complete) per line; a line over ``limit`` bytes yields its start and is skipped."""
    number = 0
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            head = line[:EXCERPT_CHARS * 4]
            while line and not line.endswith(b"\n"):  # drain the rest of the oversize line
                line = handle.readline(1 << 20)
            yield number, head, False
            continue
        yield number, line, True


def _check_text(text: str, options: ReaderOptions) -> str | None:
    if not text.strip():
        return "empty document"
    if len(text) > options.max_chars:
        return f"oversize document: {len(text):,} characters > limit {options.max_chars:,}"
    if _ESCAPED_BYTES.search(text):
        return "undecodable bytes (not UTF-8)"
    return None


class RecordReader:
    """Iterate the records of several paths in order, numbering them from 0."""

    def __init__(self, paths: Sequence[str | Path], options: ReaderOptions) -> None:
        if options.format not in FORMATS:
            raise ProvenanceError(f"unknown format {options.format!r}", hint="use auto, jsonl, txt or csv")
        self.paths = [Path(p) for p in paths]
        self.options = options
        missing = [str(p) for p in self.paths if not p.exists()]
        if missing:
            raise ProvenanceError(f"input not found: {', '.join(missing)}",
                                  hint="pass JSONL, CSV or text files, or directories of .txt files")

    def __iter__(self) -> Iterator[InputRecord]:
        seq = 0
        for path in self.paths:
            for source_id, text, reason, location, excerpt in self._records(path):
                yield InputRecord(seq, source_id, text, reason, location, excerpt)
                seq += 1

    def _format(self, path: Path) -> str:
        if self.options.format != "auto":
            return self.options.format
        suffix = path.suffix.lower()
        if suffix in JSONL_SUFFIXES:
            return "jsonl"
        if suffix in CSV_SUFFIXES:
            return "csv"
        return "txt"

    def _records(self, path: Path) -> Iterator[tuple[str | None, str | None, str | None, str, str | None]]:
        if path.is_dir():
            yield from self._directory(path)
            return
        kind = self._format(path)
        reader = {"jsonl": self._jsonl, "csv": self._csv, "txt": self._paragraphs}[kind]
        yield from reader(path)

    def _jsonl(self, path: Path):
        options = self.options
        with path.open("rb") as handle:
            for number, raw, complete in _bounded_lines(handle, options.max_line_bytes):
                location = f"{path}:{number}"
                if not complete:
                    yield None, None, f"oversize line: more than {options.max_line_bytes:,} bytes", location, \
                        _excerpt(raw)
                    continue
                if not raw.strip():
                    continue
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield None, None, f"undecodable bytes (not UTF-8) at byte {exc.start}", location, _excerpt(raw)
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield None, None, f"malformed JSON: {exc.msg} at column {exc.colno}", location, _excerpt(line)
                    continue
                source_id = f"{path.name}:{number}"
                if isinstance(record, dict) and record.get(options.id_field) is not None:
                    source_id = str(record[options.id_field])[:512]
                if not isinstance(record, dict):
                    yield source_id, None, "not a JSON object", location, _excerpt(line)
                    continue
                text = record.get(options.text_field)
                if not isinstance(text, str):
                    found = "missing" if text is None else f"a {type(text).__name__}"
                    yield source_id, None, f'field "{options.text_field}" is {found}, not a string', location, \
                        _excerpt(line)
                    continue
                reason = _check_text(text, options)
                yield source_id, None if reason else text, reason, location, _excerpt(text) if reason else None

    def _csv(self, path: Path):
        options = self.options
        csv.field_size_limit(max(options.max_chars * 4, 1 << 20))
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        with path.open("r", encoding="utf-8", errors="surrogateescape", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            try:
                header = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ProvenanceError(f"{path}: unreadable CSV header ({exc})",
                                      hint="check the file's format") from None
            if options.text_field not in header:
                raise ProvenanceError(f'{path}: no column "{options.text_field}" (columns: {", ".join(header)})',
                                      hint="choose the text column with --text-field")
            text_at = header.index(options.text_field)
            id_at = header.index(options.id_field) if options.id_field in header else None
            row_number = 1
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    row_number += 1
                    yield None, None, f"malformed CSV row: {exc}", f"{path}:row {row_number}", None
                    continue
                row_number += 1
                location = f"{path}:line {reader.line_num}"
                if not row or not any(cell.strip() for cell in row):
                    continue
                source_id = row[id_at][:512] if id_at is not None and id_at < len(row) else f"{path.name}:{row_number}"
                if len(row) != len(header):
                    yield source_id, None, f"malformed CSV row: {len(row)} fields, header has {len(header)}", \
                        location, _excerpt(",".join(row))
                    continue
                text = row[text_at]
                reason = _check_text(text, options)
                yield source_id, None if reason else text, reason, location, _excerpt(text) if reason else None

    def _paragraphs(self, path: Path):
        """One document per blank-line-separated paragraph, read line by line."""
        options = self.options
        lines: list[bytes] = []
        size = 0
        start_line = 1
        oversize = False
        paragraph = 0

        def flush():
            data = b"".join(lines)
            location = f"{path}:{start_line}"
            source_id = f"{path.name}#{paragraph}"
            if oversize:
                return source_id, None, f"oversize paragraph: more than {options.max_chars:,} characters", \
                    location, _excerpt(data)
            try:
                text = data.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                return source_id, None, f"undecodable bytes (not UTF-8) at byte {exc.start}", location, _excerpt(data)
            reason = _check_text(text, options)
            return source_id, None if reason else text, reason, location, _excerpt(text) if reason else None

        with path.open("rb") as handle:
            for number, raw, complete in _bounded_lines(handle, options.max_line_bytes):
                if complete and not raw.strip():
                    if lines or oversize:
                        paragraph += 1
                        yield flush()
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
                yield flush()

    def _directory(self, root: Path):
        """Each ``.txt`` file under ``root`` (sorted, recursive) is one document."""
        options = self.options
        for path in sorted(root.rglob("*.txt")):
            if not path.is_file():
                continue
            source_id = str(path.relative_to(root))[:512]
            location = str(path)
            if path.stat().st_size > options.max_chars * 4:
                with path.open("rb") as handle:
                    head = handle.read(EXCERPT_CHARS * 4)
                yield source_id, None, f"oversize file: {path.stat().st_size:,} bytes", location, _excerpt(head)
                continue
            data = path.read_bytes()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield source_id, None, f"undecodable bytes (not UTF-8) at byte {exc.start}", location, _excerpt(data)
                continue
            reason = _check_text(text, options)
            yield source_id, None if reason else text, reason, location, _excerpt(text) if reason else None
