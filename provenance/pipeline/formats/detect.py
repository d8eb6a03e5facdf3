"""Which reader a file needs: compression from magic bytes, then the format from the content's signature
(``PAR1``, ``WARC/``, a JSON object) before the extension, because extensions lie (a ``.jsonl`` that is gzip, a
``.parquet`` that is JSON Lines). An explicit ``--format`` is obeyed unless the content plainly contradicts it."""

from __future__ import annotations

from pathlib import Path

from provenance.pipeline.formats.common import FileError
from provenance.pipeline.formats.compression import open_decompressed, sniff_compression, strip_compression_suffix

PARQUET_MAGIC = b"PAR1"
WARC_MAGIC = (b"WARC/", b"filedesc://")
SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "csv",
                  ".txt": "txt", ".parquet": "parquet", ".pq": "parquet", ".warc": "warc", ".wet": "warc",
                  ".arc": "warc"}
SIGNED_FORMATS = {"parquet": "Parquet", "warc": "WARC"}


def _content_format(head: bytes) -> str | None:
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(WARC_MAGIC):
        return "warc"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{"):
        return "jsonl"
    if stripped.startswith(b"["):
        return "json-array"
    return None


def suffix_format(path: Path) -> str | None:
    """The format the name claims (``posts.jsonl.zst`` -> jsonl), or None."""
    return SUFFIX_FORMATS.get(Path(strip_compression_suffix(path.name)).suffix.lower())


def detect(path: Path, requested: str = "auto") -> tuple[str, str | None]:
    """(format, compression) of ``path``; ``FileError`` when it cannot be read as any format."""
    with path.open("rb") as handle:
        raw_head = handle.read(16)
    compression = sniff_compression(raw_head)
    head = raw_head
    if compression is not None:
        try:
            with open_decompressed(path, compression) as stream:
                head = stream.read(64)
        except (EOFError, OSError) as exc:
            if compression == "gzip" and suffix_format(path) == "warc" or requested == "warc":
                head = b"WARC/"  # per-record gzip: warcio reads it and reports its own errors
            else:
                raise FileError(f"unreadable {compression} data at the start of the file ({exc})") from None
    content = _content_format(head)
    if content == "json-array":
        raise FileError("a JSON array, not JSON Lines (one object per line): convert it with jq -c '.[]'")
    if requested != "auto":
        if content in SIGNED_FORMATS and content != requested:
            raise FileError(f"this is a {SIGNED_FORMATS[content]} file, not {requested}: use --format {content} or "
                            "--format auto")
        if requested in SIGNED_FORMATS and content != requested:
            raise FileError(f"not a {SIGNED_FORMATS[requested]} file (its first bytes are {head[:8]!r})")
        return requested, compression
    claimed = suffix_format(path)
    if content in SIGNED_FORMATS:
        return content, compression
    if claimed in SIGNED_FORMATS:  # named .parquet/.warc without the signature: believe the content if any
        if content == "jsonl":
            return "jsonl", compression
        raise FileError(f"named {path.name} but not a {SIGNED_FORMATS[claimed]} file (its first bytes are "
                        f"{head[:8]!r})")
    if claimed is not None:
        return claimed, compression
    return content or "txt", compression
