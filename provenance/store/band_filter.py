"""A Bloom filter of the ledger's band keys, per process, in front of the lookup query.

Why: a verification probes the band index with 2,176 keys (128 near-duplicate, 2,048 containment), and for a
text the ledger does not hold almost none of them exist. At 10^6 manifests the index (3.3 GB on SQLite) no
longer fits SQLite's memory map (at most 2 GB in this build), so each probe is a page read plus a B-tree
search, about 3 µs: 6-7 ms per lookup, whatever the answer. A key the filter has never seen cannot be in the
table, so it is not probed; the answers are the query's own, because a Bloom filter has false positives (a
key probed for nothing) but no false negatives for any key it was given. LSM stores (LevelDB, RocksDB) put
a filter in front of every on-disk lookup for the same reason.

Staying complete is the whole contract. The filter covers every ``manifest_bands`` row up to a watermark
(the largest ``id`` it has read); each lookup first reads the rows above it (``id > watermark``: an index
range that is almost always empty). That is complete only if rows become visible in ``id`` order: SQLite
has one writer at a time, and on PostgreSQL ``record_manifest`` takes a transaction-scoped advisory lock
before its rows get ids, so ledger writers commit one after the other. Manifests are never deleted by the
platform; a database whose largest ``id`` falls below the watermark (restored from a backup, replaced) makes
the filter start again. Until a filter is built (in a background thread: about a minute at 10^6 manifests on
this 2-core machine) lookups probe every key, as without it.

Memory: one 64-bit word per 8 band rows (one byte per row, 128 bytes per manifest: 128 MB at 10^6), 4 bits
per key inside one word (one cache line read per key); about 2% false positives at 8 rows per word. The filter
is rebuilt larger when rows reach 12 per word.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

ROWS_PER_WORD = 8  # the size a filter is built for: 1 byte per band row, about 2% false positives
REBUILD_ROWS_PER_WORD = 12  # grown past this (about 6% false positives), a larger filter is built
AUTO_MIN_ROWS = 1 << 21  # "auto": below about 16,000 manifests the index alone answers in a few ms
AUTO_RECHECK_SECONDS = 60.0  # how often "auto" looks at the row count again, and a failed build is retried
BUILD_BATCH_ROWS = 1_000_000
CATCH_UP_ROWS = 100_000  # rows a lookup reads to catch up at most (about 35 ms); more: it probes every key
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(keys: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: band keys are MinHash values with the band in the high bits, and the filter
    takes its word from the high bits and its bit positions from the low ones, so every bit must depend on
    the whole key."""
    with np.errstate(over="ignore"):
        z = keys.astype(np.uint64, copy=True)
        z ^= z >> np.uint64(30)
        z *= _M1
        z ^= z >> np.uint64(27)
        z *= _M2
        z ^= z >> np.uint64(31)
    return z


class BloomWords:
    """A blocked Bloom filter over 64-bit integers: one word per key, 4 bits set in it."""

    def __init__(self, rows: int) -> None:
        self.words = np.zeros(max(1024, -(-rows // ROWS_PER_WORD)), dtype=np.uint64)
        self.count = 0

    def _slots(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mixed = _mix(keys)
        index = ((mixed >> np.uint64(32)) * np.uint64(self.words.size)) >> np.uint64(32)  # fast range
        one, six_bits = np.uint64(1), np.uint64(63)
        bits = np.zeros_like(mixed)
        for shift in (0, 6, 12, 18):  # 4 bit positions from the low 24 bits (the word came from the high 32)
            bits |= one << ((mixed >> np.uint64(shift)) & six_bits)
        return index.astype(np.intp), bits

    def add(self, keys: np.ndarray) -> None:
        if keys.size:
            index, bits = self._slots(keys)
            np.bitwise_or.at(self.words, index, bits)
            self.count += int(keys.size)

    def may_contain(self, keys: np.ndarray) -> np.ndarray:
        """True where the key may have been added; False only for keys that never were."""
        index, bits = self._slots(keys)
        return (self.words[index] & bits) == bits

    @property
    def full(self) -> bool:
        return self.count > REBUILD_ROWS_PER_WORD * self.words.size


def _as_keys(rows: list) -> np.ndarray:  # noqa: ANN401 - driver rows
    return np.fromiter((int(key) for key in rows), dtype=np.int64, count=len(rows)).view(np.uint64)


@dataclass
class LedgerKeyFilter:
    """One database's filter in this process: the Bloom words, the watermark they cover, and the build."""

    bloom: BloomWords | None = None
    watermark: int = 0
    building: bool = False
    checked_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keys_to_probe(self, connection: Connection, keys: np.ndarray, mode: str) -> np.ndarray:
        """The keys worth sending to the index: all of them while no filter is ready, else those the filter
        may hold once it has read the rows written since its watermark."""
        if self.bloom is None:
            self._maybe_start(connection, mode)
            return keys
        with self.lock:
            if self.bloom is None or not self._catch_up(connection):
                return keys
            bloom = self.bloom
            if bloom.full and not self.building:
                self._start_build(connection.engine)  # the current filter serves (and keeps up) until then
        return keys[bloom.may_contain(keys)]

    def _maybe_start(self, connection: Connection, mode: str) -> None:
        """Start a build: at once with ``on``, with ``auto`` once the table is large; at most once a minute
        either way (a failed build is not retried on every lookup)."""
        if self.building:
            return
        with self.lock:
            now = time.monotonic()
            if self.building or now - self.checked_at < AUTO_RECHECK_SECONDS:
                return
            self.checked_at = now
            if mode == "auto" and _max_id(connection) < AUTO_MIN_ROWS:
                return
            self._start_build(connection.engine)

    def _catch_up(self, connection: Connection) -> bool:
        """Add the rows above the watermark. False (probe every key this time) when more than one batch was
        written since (a bulk import: the rest is read by the next lookups, a batch each) or when the
        table's largest id fell below the watermark: the database was replaced, the filter describes another
        one and is dropped."""
        rows = connection.exec_driver_sql(
            f"SELECT id, band_key FROM manifest_bands WHERE id > {int(self.watermark)} ORDER BY id "
            f"LIMIT {CATCH_UP_ROWS}").all()
        if rows:
            self.bloom.add(_as_keys([key for _id, key in rows]))
            self.watermark = int(rows[-1][0])
            return len(rows) < CATCH_UP_ROWS
        if _max_id(connection) < self.watermark:
            log.warning("ledger key filter: manifest_bands ends below the filter's watermark (%d); rebuilding",
                        self.watermark)
            self.bloom, self.watermark, self.checked_at = None, 0, float("-inf")
            return False
        return True

    def _start_build(self, engine: Engine) -> None:
        self.building = True
        threading.Thread(target=self._build, args=(engine,), name="ledger-key-filter", daemon=True).start()

    def _build(self, engine: Engine) -> None:
        """Read every band key up to the table's current largest id into a new filter, then swap it in; the
        next lookup's catch-up reads whatever was written meanwhile."""
        started = time.perf_counter()
        try:
            with engine.connect() as connection:
                top = _max_id(connection)
                bloom = BloomWords(top)
                cursor = connection.connection.driver_connection.cursor()  # plain tuples: 10^8 rows at 10^6
                try:
                    for start in range(0, top, BUILD_BATCH_ROWS):
                        cursor.execute(f"SELECT band_key FROM manifest_bands WHERE id > {start} "
                                       f"AND id <= {min(top, start + BUILD_BATCH_ROWS)}")
                        bloom.add(_as_keys([key for (key,) in cursor.fetchall()]))
                finally:
                    cursor.close()
                connection.rollback()
            with self.lock:  # an old filter that read past ``top`` meanwhile: the next catch-up re-reads those
                self.bloom, self.watermark = bloom, top
            log.info("ledger key filter: %d band rows in %.1f s (%d MB)", bloom.count,
                     time.perf_counter() - started, bloom.words.nbytes >> 20)
        except Exception:  # noqa: BLE001 - the lookup works without a filter; say why there is none
            log.exception("ledger key filter: build failed; lookups probe every key")
        finally:
            self.building = False


def _max_id(connection: Connection) -> int:
    return int(connection.exec_driver_sql("SELECT MAX(id) FROM manifest_bands").scalar() or 0)


_filters: dict[tuple[int, str], LedgerKeyFilter] = {}
_filters_lock = threading.Lock()


def _filter_name(connection: Connection) -> tuple[int, str] | None:
    """The key of this process's filter for the connection's database; None for an in-memory SQLite database
    (every one has the same URL, so a filter kept by URL could describe another one: they are never filtered)."""
    url = connection.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return os.getpid(), url.render_as_string(hide_password=False)


def keys_to_probe(connection: Connection, keys: np.ndarray, mode: str) -> np.ndarray:
    """``keys`` less those no ledger row can have (``mode``: auto | on | off; see ``Settings.ledger_key_filter``)."""
    if mode == "off" or keys.size == 0:
        return keys
    name = _filter_name(connection)
    if name is None:
        return keys
    ledger = _filters.get(name)
    if ledger is None:
        with _filters_lock:
            ledger = _filters.setdefault(name, LedgerKeyFilter())
    return ledger.keys_to_probe(connection, keys, mode)


def filter_stats(connection: Connection) -> dict[str, int] | None:
    """Rows and bytes of this database's filter in this process (None while there is none)."""
    ledger = _filters.get(_filter_name(connection))
    bloom = ledger.bloom if ledger is not None else None
    return None if bloom is None else {"rows": bloom.count, "bytes": int(bloom.words.nbytes),
                                       "watermark": ledger.watermark}


def wait_until_built(connection: Connection, mode: str = "on", timeout: float = 600.0) -> bool:
    """Start this database's filter if needed and wait for it (benches and tests; lookups never wait). False
    at the timeout, and at once for a database that is never filtered."""
    name = _filter_name(connection)
    if name is None or mode == "off":
        return False
    deadline = time.monotonic() + timeout
    keys_to_probe(connection, np.zeros(1, dtype=np.uint64), mode)
    while time.monotonic() < deadline:
        ledger = _filters.get(name)
        if ledger is not None and ledger.bloom is not None and not ledger.building:
            return True
        time.sleep(0.05)
    return False


def forget_filters() -> None:
    """Drop every filter of this process (tests that rebuild a database under the same URL)."""
    with _filters_lock:
        _filters.clear()
