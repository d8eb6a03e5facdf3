"""Parquet (pyarrow), read one row group at a time in record batches, only the text and id columns; nested struct
fields by dotted path (``--text-field post.body``). Resume position: row group and row within it.

A column that is absent, not a string, or under a list is one error for the file (every row would say the same);
a row whose text is null is one quarantine record with its row group and row.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provenance.pipeline.formats.common import FileError, RawRecord, ReaderOptions, text_record
from provenance.pipeline.formats.fields import split_path

BATCH_ROWS = 8192


def _resolve(schema: Any, dotted: str) -> tuple[str, list[str], Any] | None:
    """(top-level column, struct field names under it, leaf type), or None when the path is not in the schema;
    raises ``FileError`` when the path goes through a list."""
    import pyarrow as pa

    names = schema.names
    if dotted in names:
        return dotted, [], schema.field(dotted).type
    parts = split_path(dotted)
    if parts[0] not in names:
        return None
    kind = schema.field(parts[0]).type
    walked = [parts[0]]
    for part in parts[1:]:
        if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
            raise FileError(f'column "{".".join(walked)}" is a list; "{dotted}" needs a struct field')
        if not pa.types.is_struct(kind) or kind.get_field_index(part) < 0:
            return None
        kind = kind.field(part).type
        walked.append(part)
    return parts[0], parts[1:], kind


def _is_text(kind: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or str(kind) == "string_view"


def _values(batch: Any, column: str, fields: list[str]) -> list[Any]:
    import pyarrow.compute as pc

    array = batch.column(column)
    for name in fields:
        array = pc.struct_field(array, [name])  # null where a parent struct is null
    return array.to_pylist()


def read_parquet(path: Path, compression: str | None, options: ReaderOptions,
                 position: dict[str, Any] | None = None) -> Iterator[RawRecord]:
    if compression is not None:
        raise FileError(f"a {compression}-compressed Parquet file: decompress it first (Parquet compresses its own "
                        "pages)")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise FileError(f"not a readable Parquet file ({exc})") from None
    schema = parquet.schema_arrow
    text_path = _resolve(schema, options.text_field)
    if text_path is None:
        raise FileError(f'no column "{options.text_field}" (columns: {", ".join(schema.names)}); choose the text '
                        "column with --text-field")
    if not _is_text(text_path[2]):
        raise FileError(f'column "{options.text_field}" is {text_path[2]}, not a string')
    try:
        id_path = _resolve(schema, options.id_field)
    except FileError:
        id_path = None
    columns = list(dict.fromkeys([text_path[0]] + ([id_path[0]] if id_path else [])))
    first_group = int(position["row_group"]) if position else 0
    first_row = int(position["row"]) if position else 0
    for group in range(first_group, parquet.metadata.num_row_groups):
        row = 0
        skip = first_row if group == first_group else 0
        try:
            batches = parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=columns,
                                           use_threads=False)
            for batch in batches:
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    row += batch.num_rows
                    continue
                if skip:
                    batch, row, skip = batch.slice(skip), row + skip, 0
                texts = _values(batch, text_path[0], text_path[1])
                ids = _values(batch, id_path[0], id_path[1]) if id_path else [None] * len(texts)
                for text, source in zip(texts, ids, strict=True):
                    location = f"{path}:row group {group}, row {row}"
                    row += 1
                    at = {"row_group": group, "row": row}
                    source_id = str(source)[:512] if source is not None else f"{path.name}:{group}:{row - 1}"
                    if text is None:
                        yield RawRecord(source_id, None, f'field "{options.text_field}" is missing (null)', location,
                                        None, at)
                        continue
                    yield text_record(source_id, text, location, options, at)
        except (pa.ArrowException, OSError) as exc:  # a corrupt row group: say so, go on with the next one
            yield RawRecord(None, None, f"unreadable row group {group} ({exc})", f"{path}:row group {group}, row {row}",
                            None, {"row_group": group + 1, "row": 0})
