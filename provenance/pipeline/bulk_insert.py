"""Bulk inserts for submission's hot path: one compiled statement per table and dialect, executed with the
driver's ``executemany`` on plain tuples or dicts. SQLAlchemy's own executemany builds and processes a
parameter dict per row, which at 20,000 records/s costs more than SQLite's work; values here need no type
processing (strings and integers; a datetime is processed once per batch by the caller)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError

_COMPILED: dict[tuple[str, str, tuple[str, ...], str | None], tuple[str, tuple[str, ...] | None]] = {}


def _compiled(session: Session, table: Table, columns: tuple[str, ...], ignore_conflict_on: str | None):
    dialect = session.get_bind().dialect
    key = (table.name, dialect.name, columns, ignore_conflict_on)
    found = _COMPILED.get(key)
    if found is None:
        values = {name: bindparam(name) for name in columns}
        if ignore_conflict_on and dialect.name == "postgresql":
            statement = postgresql.insert(table).values(values).on_conflict_do_nothing(
                index_elements=[ignore_conflict_on])
        elif ignore_conflict_on and dialect.name == "sqlite":
            statement = sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=[ignore_conflict_on])
        elif ignore_conflict_on:
            raise ProvenanceError(f"skipping duplicate rows on insert is not implemented for {dialect.name}",
                                  hint="use SQLite or PostgreSQL as the store (PROVENANCE_DATABASE_URL)")
        else:
            statement = insert(table).values(values)
        compiled = statement.compile(dialect=dialect)
        order = tuple(compiled.positiontup) if compiled.positional else None
        found = _COMPILED[key] = (compiled.string, order)
    return found


def bulk_insert(session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                ignore_conflict_on: str | None = None) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order) into ``table`` in the session's transaction."""
    if not rows:
        return
    names = tuple(columns)
    sql, order = _compiled(session, table, names, ignore_conflict_on)
    if order is None:
        params: list[Any] = [dict(zip(names, row, strict=True)) for row in rows]
    elif order == names:
        params = [tuple(row) for row in rows]
    else:
        at = [names.index(name) for name in order]
        params = [tuple(row[i] for i in at) for row in rows]
    session.connection().exec_driver_sql(sql, params)
