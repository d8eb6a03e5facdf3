"""WARC and WET (warcio): one document per ``response`` or ``conversion`` record, source id = target URI + record
id. Other record types (warcinfo, request, metadata, revisit) are not documents and are passed over; a response
whose payload is not text (an image, a PDF, bytes with NULs) is quarantined as such, so it is counted.

Resume position: the byte offset where the last record *starts* plus ``skip: 1``. Per-record gzip (``.warc.gz``
as crawlers write it) is read by warcio itself, so that offset is in the compressed file and seekable; zstd and
bz2 WARCs are decompressed as one stream and the offset is skipped by decompressing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provenance.pipeline.formats.common import FileError, RawRecord, ReaderOptions, excerpt, text_record
from provenance.pipeline.formats.html_text import html_to_text
from provenance.pipeline.formats.lines import open_at

DOCUMENT_TYPES = {"response", "conversion"}
TEXT_TYPES = {"application/xhtml+xml", "application/json", "application/xml"}


def _content_type(record: Any) -> tuple[str, str | None]:
    """(mime type, charset) of the payload: the HTTP header for responses, the WARC header otherwise."""
    header = None
    if record.http_headers is not None:
        header = record.http_headers.get_header("Content-Type")
    if header is None:
        header = record.rec_headers.get_header("Content-Type") or ""
    mime, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip("\"' ")
    return mime.strip().lower(), charset


def _decode(payload: bytes, charset: str | None) -> tuple[str | None, str | None]:
    for encoding in dict.fromkeys([charset or "utf-8", "utf-8"]):
        try:
            return payload.decode(encoding), None
        except (UnicodeDecodeError, LookupError):
            continue
    return None, f"undecodable payload (not {charset or 'UTF-8'})"


def read_warc(path: Path, compression: str | None, options: ReaderOptions,
              position: dict[str, Any] | None = None) -> Iterator[RawRecord]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    limit = options.max_chars * 4
    if compression in (None, "gzip"):  # warcio inflates gzip members itself; offsets stay seekable
        handle = path.open("rb")
        if position:
            handle.seek(int(position["offset"]))
    else:
        handle, _, _ = open_at(path, compression, position)
    skip = int(position.get("skip", 0)) if position else 0
    offset = int(position["offset"]) if position else 0
    with handle:
        records = ArchiveIterator(handle, check_digests=False)
        first = True
        try:
            for record in records:
                # warcio's ``offset`` is where the current record starts once one record has been read to its end
                offset = offset if first else records.offset
                first = False
                at = {"offset": offset, "skip": 1}
                if skip:
                    skip -= 1
                    continue
                if record.rec_type not in DOCUMENT_TYPES:
                    continue
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                record_id = record.rec_headers.get_header("WARC-Record-ID") or ""
                source_id = f"{uri} {record_id}".strip()[:512] or f"{path.name}@{offset}"
                location = f"{path}: record at byte {offset:,}"
                mime, charset = _content_type(record)
                payload = record.content_stream().read(limit + 1)
                if record.rec_type == "response" and not (mime.startswith("text/") or mime in TEXT_TYPES):
                    yield RawRecord(source_id, None, f"non-text payload ({mime or 'no content type'})", location,
                                    None, at)
                    continue
                if b"\x00" in payload[:65536]:
                    yield RawRecord(source_id, None, f"binary payload (NUL bytes) despite {mime or 'no type'}",
                                    location, None, at)
                    continue
                if len(payload) > limit:
                    yield RawRecord(source_id, None, f"oversize payload: more than {limit:,} bytes", location,
                                    excerpt(payload[:1200]), at)
                    continue
                text, reason = _decode(payload, charset)
                if reason:
                    yield RawRecord(source_id, None, reason, location, excerpt(payload), at)
                    continue
                if mime in ("text/html", "application/xhtml+xml"):
                    text = html_to_text(text)
                yield text_record(source_id, text, location, options, at)
        except (ArchiveLoadFailed, EOFError, OSError, ValueError) as exc:
            raise FileError(f"unreadable WARC record after byte {offset:,}: {exc}; the rest of the file is not "
                            "read") from None
