"""Engines and sessions: SQLite (WAL, busy timeout, foreign keys) by default, any SQLAlchemy URL otherwise.

Engines are cached per process *and pid*: a Celery prefork child must never reuse a parent's connections.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from provenance.errors import ProvenanceError

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Reads through a memory map (address space, not memory: the pages are the OS page cache's): a ledger lookup
# probes the band index 2,176 times, and with SQLite's 2 MB page cache each probe of a large ledger was a few
# read() calls; mapped, a lookup at 3*10^4 manifests took 4.2-4.3 ms instead of 5.0-5.6 (bench/ledger_scale.py).
SQLITE_MMAP_BYTES = 1 << 30
_engines: dict[tuple[int, str], Engine] = {}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.close()


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver this project installs)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_store_engine(url: str) -> Engine:
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ProvenanceError(f"invalid database URL: {exc}", hint="e.g. sqlite:///path/db.sqlite or "
                              "postgresql://user@host/db in PROVENANCE_DATABASE_URL") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite begins a DEFERRED transaction before the first write; callers that read and then write a
        # contended row ask session_scope(..., immediate=True) for BEGIN IMMEDIATE instead (see below).
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def get_engine(url: str) -> Engine:
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = create_store_engine(url)
    return engine


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


@contextmanager
def session_scope(url: str, *, immediate: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error.

    ``immediate=True`` is for read-decide-write steps that must not interleave (the sign-in throttle): on
    SQLite the transaction starts with ``BEGIN IMMEDIATE``, so the write lock is taken before the first read
    and a second process waits (up to the busy timeout) instead of deciding on the same stale rows; a
    DEFERRED transaction would let both read, and the later writer would fail with "database is locked".
    Other databases ignore the flag: their callers lock the rows they read (``SELECT ... FOR UPDATE``)."""
    session = sessionmaker(get_engine(url), expire_on_commit=False)()
    try:
        if immediate and session.get_bind().dialect.name == "sqlite":
            # pysqlite sees the explicit BEGIN and issues no implicit one; commit()/rollback() end it.
            session.execute(text("BEGIN IMMEDIATE"))
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
