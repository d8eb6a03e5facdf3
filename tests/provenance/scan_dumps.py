"""Fixture dumps for the scan-format tests, built by the tests themselves: one list of rows written as plain
JSONL (the twin every other format is compared with), compressed JSONL, nested JSON, CSV, Parquet and WARC.

A row is ``(id, text)`` where ``text`` is a string (possibly blank: quarantined as empty) or None (the record
has no text: a missing field, a null Parquet cell, a short CSV row, an image response in a WARC) so every format
carries the same corrupt records and must quarantine the same number of them.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
from pathlib import Path

Row = tuple[str, str | None]


def jsonl_bytes(rows: list[Row], *, nested: bool = False) -> bytes:
    lines = []
    for source_id, text in rows:
        record: dict = {"id": source_id}
        if text is not None:
            record.update({"post": {"body": text}} if nested else {"text": text})
        elif nested:
            record["post"] = {"title": "no body"}
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def write_jsonl(path: Path, rows: list[Row], *, nested: bool = False, compression: str | None = None) -> Path:
    data = jsonl_bytes(rows, nested=nested)
    if compression == "gzip":
        data = gzip.compress(data)
    elif compression == "bz2":
        data = bz2.compress(data)
    elif compression == "zstd":
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def write_csv(path: Path, rows: list[Row]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "text"])
    for source_id, text in rows:
        writer.writerow([source_id] if text is None else [source_id, text])
    path.write_bytes(gzip.compress(buffer.getvalue().encode()))
    return path


def write_parquet(path: Path, rows: list[Row], *, row_group_size: int = 5) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([{"id": source_id, "post": {"body": text, "lang": "en"}} for source_id, text in rows])
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write_warc(path: Path, rows: list[Row], *, gzip_records: bool = True) -> Path:
    """WET-style conversion records for texts; an image response for a row without text; a warcinfo and a
    request record that are not documents."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzip_records)
    writer.write_record(writer.create_warcinfo_record(path.name, {"software": "tests"}))
    for source_id, text in rows:
        uri = f"https://example.org/{source_id}"
        if text is None:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(uri, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n")))
            writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(b"\x89PNG\r\n\x00\x00"),
                                                          http_headers=headers))
        else:
            writer.write_record(writer.create_warc_record(uri, "conversion", payload=io.BytesIO(text.encode()),
                                                          warc_content_type="text/plain"))
    path.write_bytes(buffer.getvalue())
    return path
