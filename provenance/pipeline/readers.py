"""Stream scan inputs as records, in constant memory, turning every bad record into a reason instead of an error.

Formats (one module each under ``provenance.pipeline.formats``): JSON Lines, CSV/TSV, plain text (one document
per blank-line-separated paragraph), Parquet, WARC/WET, any of them gzip/zstd/bz2-compressed (found by magic
bytes), and directories of them (a ``.txt`` file in a directory is one document). A file that cannot be read at
all (no such column, not the format it claims, a compressed stream cut short) becomes one quarantine record and
the scan goes on with the next file.

Records are numbered in input order (``seq``), and each carries a ``cursor``: where reading resumes after it
(path, file inside a directory, position inside the file). ``provenance scan --resume`` starts at the cursor of
the last committed record, so a 10 GB file is not parsed again from the top.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.errors import ProvenanceError
from provenance.pipeline.formats.common import EXCERPT_CHARS, FileError, RawRecord, ReaderOptions
from provenance.pipeline.formats.compression import strip_compression_suffix
from provenance.pipeline.formats.detect import detect, suffix_format

__all__ = ["EXCERPT_CHARS", "FORMATS", "InputRecord", "ReaderOptions", "RecordReader"]

FORMATS = ("auto", "jsonl", "txt", "csv", "parquet", "warc")


@dataclass(frozen=True)
class InputRecord:
    """One input record: ``text`` to score, or ``reason`` why it is quarantined (then ``text`` is None).

    ``cursor`` says where reading resumes after this record: ``{"path": index, "file": name inside a directory
    or "", "at": position inside the file, or None when the file is finished}``."""

    seq: int
    source_id: str | None
    text: str | None
    reason: str | None
    location: str
    excerpt: str | None = None
    cursor: dict[str, Any] | None = None


def _reader(kind: str):
    if kind == "jsonl":
        from provenance.pipeline.formats.jsonl import read_jsonl
        return read_jsonl
    if kind == "csv":
        from provenance.pipeline.formats.delimited import read_delimited
        return read_delimited
    if kind == "txt":
        from provenance.pipeline.formats.text import read_paragraphs
        return read_paragraphs
    if kind == "parquet":
        from provenance.pipeline.formats.parquet import read_parquet
        return read_parquet
    from provenance.pipeline.formats.warc import read_warc
    return read_warc


def _directory_files(root: Path) -> list[Path]:
    """The files of a directory a scan reads, in a fixed order: ``.txt`` files and files of a record format."""
    return [path for path in sorted(root.rglob("*"))
            if path.is_file() and not path.name.startswith(".")
            and (path.suffix.lower() == ".txt" or suffix_format(path) not in (None, "txt"))]


class RecordReader:
    """Iterate the records of several paths in order, numbering them from 0 (or from a resume cursor)."""

    def __init__(self, paths: Sequence[str | Path], options: ReaderOptions) -> None:
        if options.format not in FORMATS:
            raise ProvenanceError(f"unknown format {options.format!r}", hint=f"use one of {', '.join(FORMATS)}")
        # A Path instance is kept as it is: the API passes ``scan_roots.PinnedPath`` objects, which read through
        # descriptors checked at read time and are already validated (``exists()`` would open them all at once).
        self.paths = [p if isinstance(p, Path) else Path(p) for p in paths]
        self.options = options
        missing = [str(p) for p in self.paths if not hasattr(p, "release") and not p.exists()]
        if missing:
            raise ProvenanceError(f"input not found: {', '.join(missing)}",
                                  hint="pass JSONL, CSV, text, Parquet or WARC files (compressed or not), or "
                                       "directories of them")

    def __iter__(self) -> Iterator[InputRecord]:
        return self.records()

    def records(self, start: dict[str, Any] | None = None, seq: int = 0) -> Iterator[InputRecord]:
        """Records from the beginning, or after the record whose cursor is ``start`` (numbered from ``seq``)."""
        for index, path in enumerate(self.paths):
            if start is not None and index < int(start["path"]):
                continue
            resume = start if start is not None and index == int(start["path"]) else None
            if not hasattr(path, "release") and path.is_dir():  # a pinned path is always a file
                raws = self._directory(path, resume)
            else:
                if resume is not None and resume.get("at") is None:
                    continue  # this file was finished
                raws = self._file(path, "", resume.get("at") if resume else None, self.options.format)
            for name, raw in raws:
                yield InputRecord(seq, raw.source_id, raw.text, raw.reason, raw.location, raw.excerpt,
                                  {"path": index, "file": name, "at": raw.position})
                seq += 1
            release = getattr(path, "release", None)
            if release is not None:  # a pinned file's descriptor is closed once it has been read
                release()

    def _file(self, path: Path, name: str, position: dict[str, Any] | None,
              requested: str) -> Iterator[tuple[str, RawRecord]]:
        """One file's records; a file-level failure ends the file with one quarantine record."""
        try:
            kind, compression = detect(path, requested)
            for raw in _reader(kind)(path, compression, self.options, position):
                yield name, raw
        except FileError as exc:
            yield name, RawRecord(None, None, str(exc), str(path), None, None)
        except OSError as exc:  # unreadable file (permissions, vanished)
            yield name, RawRecord(None, None, f"unreadable file ({exc.strerror or exc})", str(path), None, None)
        except Exception as exc:  # a library's surprise on a malformed file: one reason, and the next file goes on
            yield name, RawRecord(None, None, f"unreadable file ({type(exc).__name__}: {exc})"[:1000], str(path),
                                  None, None)

    def _directory(self, root: Path, resume: dict[str, Any] | None) -> Iterator[tuple[str, RawRecord]]:
        """Each ``.txt`` file under ``root`` (sorted, recursive) is one document; files of a record format are
        read as such (format detected per file)."""
        from provenance.pipeline.formats.text import read_whole_file

        done = Path(resume["file"]) if resume and resume.get("file") else None
        for path in _directory_files(root):
            relative = path.relative_to(root)
            name = str(relative)
            position = None
            if done is not None:
                if relative < done:
                    continue
                if relative == done:
                    if resume.get("at") is None:
                        continue
                    position = resume["at"]
            if path.suffix.lower() == ".txt" and strip_compression_suffix(path.name) == path.name:
                yield name, read_whole_file(path, name[:512], self.options)
            else:
                yield from self._file(path, name, position, "auto")
