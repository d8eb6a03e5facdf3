"""Writers for ``provenance verdicts export``: JSONL, CSV and Parquet, streaming, to a stream or to a file that
appears only when complete (written beside it, then renamed), so a failed export never leaves half a file."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from provenance.pipeline.export import CSV_COLUMNS, csv_row

EXPORT_FORMATS = ("jsonl", "csv", "parquet")
ROW_GROUP = 10_000


def parquet_schema() -> Any:
    """Typed columns; the watermark a struct, detector scores a map (names depend on the bundle), PII findings
    a list of structs, the registered signals' records one JSON string (their shapes differ by signal)."""
    import pyarrow as pa

    return pa.schema([
        ("document_id", pa.int64()), ("source_id", pa.string()), ("p_machine", pa.float64()),
        ("verdict", pa.string()),
        ("watermark", pa.struct([("z_score", pa.float64()), ("p_value", pa.float64()), ("watermarked", pa.bool_()),
                                 ("key_id", pa.string())])),
        ("pii_count", pa.int64()), ("pii_types", pa.list_(pa.string())), ("p_toxic", pa.float64()),
        ("misuse", pa.bool_()), ("detectors", pa.map_(pa.string(), pa.float64())),
        ("pii", pa.list_(pa.struct([("type", pa.string()), ("start", pa.int64()), ("end", pa.int64()),
                                    ("original_start", pa.int64()), ("original_end", pa.int64()),
                                    ("operator", pa.string())]))),
        ("content_hash", pa.string()), ("bundle_version", pa.string()), ("ledger_manifest_id", pa.string()),
        ("verdict_id", pa.int64()), ("decision", pa.string()),
        ("signals", pa.string()),  # JSON: each registered signal's record has its own shape
        ("versions", pa.map_(pa.string(), pa.string())),
    ])


def _parquet_row(record: dict[str, Any]) -> dict[str, Any]:
    detectors = record.get("detectors") or {}
    return {**record, "detectors": [(str(k), None if v is None else float(v)) for k, v in detectors.items()
                                    if v is None or isinstance(v, (int, float))],
            "signals": json.dumps(record.get("signals") or {}, ensure_ascii=False, sort_keys=True, default=str),
            "versions": [(str(k), None if v is None else str(v)) for k, v in (record.get("versions") or {}).items()]}


def _row_group_tables(records: Iterable[dict[str, Any]], schema: Any, row_group: int) -> Iterator[Any]:
    """The records as Arrow tables of ``row_group`` rows (one empty table when there are none, so even an
    empty export is a valid Parquet file with the schema)."""
    import pyarrow as pa

    rows: list[dict[str, Any]] = []
    count = 0
    for record in records:
        rows.append(_parquet_row(record))
        count += 1
        if len(rows) >= row_group:
            yield pa.Table.from_pylist(rows, schema=schema)
            rows = []
    if rows or count == 0:
        yield pa.Table.from_pylist(rows, schema=schema)


def write_parquet(records: Iterable[dict[str, Any]], sink: Any) -> int:
    import pyarrow.parquet as pq

    schema = parquet_schema()
    count = 0
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for table in _row_group_tables(records, schema, ROW_GROUP):
            writer.write_table(table)
            count += table.num_rows
    return count


class _Chunks:
    """A write-only sink that keeps what was written until it is taken: lets the Parquet writer feed a stream."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the parts are handed out by the caller after each row group."""

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def parquet_chunks(records: Iterable[dict[str, Any]], row_group: int = ROW_GROUP) -> Iterator[bytes]:
    """The Parquet file of ``write_parquet`` as a stream of byte chunks, one row group at a time (the API's
    export: memory bounded by one row group, whatever the job's size)."""
    import pyarrow.parquet as pq

    schema = parquet_schema()
    sink = _Chunks()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    try:
        for table in _row_group_tables(records, schema, row_group):
            writer.write_table(table)
            yield sink.take()
    finally:
        writer.close()
    yield sink.take()


def jsonl_chunks(records: Iterable[dict[str, Any]], lines: int = 200) -> Iterator[bytes]:
    """``write_jsonl``'s lines as a stream of byte chunks of ``lines`` records."""
    batch: list[str] = []
    for record in records:
        batch.append(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        if len(batch) >= lines:
            yield "".join(batch).encode()
            batch = []
    if batch:
        yield "".join(batch).encode()


def write_jsonl(records: Iterable[dict[str, Any]], sink: IO[str]) -> int:
    count = 0
    for record in records:
        sink.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        count += 1
    return count


def write_csv(records: Iterable[dict[str, Any]], sink: IO[str]) -> int:
    writer = csv.writer(sink)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for record in records:
        writer.writerow(csv_row(record))
        count += 1
    return count


@contextmanager
def _atomic(path: Path, binary: bool):
    partial = path.with_name(f".{path.name}.partial")
    handle = partial.open("wb") if binary else partial.open("w", encoding="utf-8", newline="")
    try:
        yield handle
        handle.close()
        os.replace(partial, path)
    except BaseException:
        handle.close()
        partial.unlink(missing_ok=True)
        raise


def export(records: Iterable[dict[str, Any]], format: str, output: Path | None, stdout: IO[str]) -> int:
    """Write ``records`` as ``format`` to ``output`` (atomically) or to ``stdout``; returns how many."""
    if output is not None:
        with _atomic(output, binary=format == "parquet") as handle:
            if format == "parquet":
                return write_parquet(records, handle)
            return (write_csv if format == "csv" else write_jsonl)(records, handle)
    if format == "parquet":
        return write_parquet(records, stdout.buffer)
    return (write_csv if format == "csv" else write_jsonl)(records, stdout)
