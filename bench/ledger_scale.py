"""Ledger lookup at scale: p50/p99 of one verification's ledger lookup at 10^5 and 10^6 manifests.

The ledger is the default store (SQLite) or, with ``--store postgres``, a PostgreSQL server started on loopback
in a temp dir (``testkit.services.PostgresServer``); either way the schema is made by the real migrations and
filled with synthetic manifests: ``--targets`` of them carry known random MinHash signatures and full bodies
(what queries hit); the rest are filler whose 128 band rows are random 53-bit values generated inside the
database (bulk ``INSERT ... SELECT`` from a recursive CTE on SQLite, from ``generate_series`` on PostgreSQL),
with empty bodies. The build drops the band table's indexes (and on PostgreSQL its primary key, with foreign-key
triggers off for the session), loads everything in one transaction (SQLite: journal and fsync off for the build
only) and builds the indexes once at the end (then ANALYZE on PostgreSQL, as autovacuum would; none on
SQLite, which the store never analyses): maintaining a B-tree row by row over 128 million rows is what made
the first 10^6 build run for more than an hour. Tenants: half the manifests belong to ``default`` (the tenant
every query names), the rest to three others.

One lookup = ``provenance.signals.provenance.lookup_hashed`` (exact digest, near-duplicate and containment
queries, manifest bodies of the candidates): ``lookup_many`` without hashing the text. Query mix: a quarter
exact copies of a target, a quarter edited copies (half of the signature kept), half unrelated; each query's
"smallest hashes" per permutation are synthetic too (the containment query sends 16 per band: 2,048 probes).

Key filter: the timed lookups use the settings' default ``ledger_key_filter`` (``auto``: a per-process Bloom
filter of the band keys, ``provenance/store/band_filter.py``), built and waited for before timing (its build
time and size are reported); the same lookups without it (``off``, before and after) are the baseline of the
same run, and their answers are compared.

Revision baseline (``--baseline``, on by default), same run, same data, same queries: the ledger is first built at
revision 0009 (band rows as (band, bucket string), a (band, bucket, tenant) index) and its two band queries
per lookup (near-duplicate, containment) are timed in that revision's form (one OR term per band), for at most
``--baseline-budget`` seconds; then the real migration to head runs on that ledger (timed: what an operator's
upgrade costs, revision 0010 rewrites every band row) and the same queries are timed in the new form
(``band_key`` probes on the (band_key, tenant) index), answers compared. Without ``--baseline`` the ledger is
built at head directly (faster: no old index, no rewrite).

    python bench/ledger_scale.py [--store sqlite|postgres] [--scales 100000,1000000] [--lookups 1000]
                                 [--targets 2000] [--no-baseline] [--shared-buffers 2GB]
                                 [--key-filter default|auto|on|off]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from provenance.settings import Settings  # noqa: E402
from provenance.store import band_filter  # noqa: E402

TENANTS = ("default", "newsroom", "archive", "legal")  # default holds half of the ledger
MAX_VALUE = (1 << 53) - 2  # below the empty-text marker
GOAL_P50_MS, GOAL_P99_MS = 5.0, 20.0


def tenant_of(index: int) -> str:
    return "default" if index % 2 == 0 else TENANTS[1 + (index // 2) % 3]


def revision_0009_sql(groups: tuple[int, ...], limit: int, mark: str, postgres: bool) -> str:
    """The tenant query as revision 0009 ran it (the baseline): one OR term per band on (band, bucket, tenant);
    PostgreSQL got each band's values as one array literal."""
    if postgres:
        condition = " OR ".join(f"(b.band = {band} AND b.bucket = ANY(%s) AND b.tenant = %s)"
                                for band in range(len(groups)))
    else:
        condition = " OR ".join(f"(b.tenant = {mark} AND b.band = {mark} AND b.bucket = {mark})" if size == 1 else
                                f"(b.tenant = {mark} AND b.band = {mark} AND b.bucket IN ({', '.join([mark] * size)}))"
                                for size in groups)
    return (f"SELECT b.manifest_id, COUNT(*) FROM manifest_bands b WHERE {condition} GROUP BY b.manifest_id "
            f"HAVING COUNT(*) >= {mark} ORDER BY COUNT(*) DESC, b.manifest_id LIMIT {int(limit)}")


def revision_0009_params(buckets: list[list[int]], tenant: str, needed: int, postgres: bool) -> tuple:
    if postgres:
        return (*[x for values in buckets for x in ("{" + ",".join(map(str, values)) + "}", tenant)], needed)
    return (*[x for band, values in enumerate(buckets) for x in (tenant, band, *map(str, values))], needed)


def target_rows(targets: np.ndarray, old: bool) -> tuple[list[tuple], list[tuple]]:
    """(manifest rows, band rows) of the manifests with known signatures, bodies included; band rows as
    (band, bucket) before revision 0010 (``old``), as ``band_key`` after."""
    from provenance.store.ledger import band_key

    manifests = [(f"m{index:08d}", f"{index:064x}", tenant_of(index),
                  json.dumps({"id": f"m{index:08d}", "minhash": {"values": [int(v) for v in values]}}))
                 for index, values in enumerate(targets)]
    bands = [(f"m{index:08d}", *((band, str(int(value))) if old else (band_key(band, value),)), tenant_of(index))
             for index, values in enumerate(targets) for band, value in enumerate(values)]
    return manifests, bands


def band_columns(old: bool) -> str:
    return "band, bucket, tenant" if old else "band_key, tenant"


def build_sqlite(path: Path, count: int, targets: np.ndarray, revision: str) -> dict[str, float]:
    """``count`` manifests: the first ``len(targets)`` with the given signatures, the rest filler."""
    from provenance.store import get_engine, upgrade

    url = f"sqlite:///{path}"
    upgrade(url, revision)
    old = revision != "head"
    get_engine(url).dispose()  # the bulk load below takes the file alone
    started = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    # Build only: no journal, no fsync, a 2 GB page cache and the sorter's helper thread (CREATE INDEX on 128M
    # rows is an external sort). The connection the lookups use later has the store's own settings.
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-2000000; "
                     "PRAGMA threads=2; PRAGMA temp_store=FILE;")
    indexes = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                         "AND tbl_name = 'manifest_bands' AND sql IS NOT NULL").fetchall()
    for name, _sql in indexes:  # built once at the end: much faster than maintaining them row by row
        db.execute(f"DROP INDEX {name}")
    db.execute("BEGIN")
    manifests, bands = target_rows(targets, old)
    db.executemany("INSERT INTO manifests (id, text_sha256, tenant, body, minhash, created_at) "
                   "VALUES (?, ?, ?, ?, '[]', '2026-01-01 00:00:00')", manifests)
    db.executemany(f"INSERT INTO manifest_bands (manifest_id, {band_columns(old)}) "
                   f"VALUES ({', '.join('?' * len(bands[0]))})", bands)
    tenant_case = ("CASE WHEN n % 2 = 0 THEN 'default' WHEN (n / 2) % 3 = 0 THEN 'newsroom' "
                   "WHEN (n / 2) % 3 = 1 THEN 'archive' ELSE 'legal' END")
    db.execute(f"""INSERT INTO manifests (id, text_sha256, tenant, body, minhash, created_at)
        WITH RECURSIVE seq(n) AS (SELECT {len(targets)} UNION ALL SELECT n + 1 FROM seq WHERE n + 1 < {count})
        SELECT printf('m%08d', n), printf('%064x', n), {tenant_case}, '{{}}', '[]', '2026-01-01 00:00:00'
        FROM seq""")
    value = f"abs(random()) % {MAX_VALUE}"
    band = f"bands.band, CAST({value} AS TEXT)" if old else f"bands.band * {1 << 53} + {value}"
    db.execute(f"""INSERT INTO manifest_bands (manifest_id, {band_columns(old)})
        WITH RECURSIVE bands(band) AS (SELECT 0 UNION ALL SELECT band + 1 FROM bands WHERE band < 127)
        SELECT m.id, {band}, m.tenant
        FROM manifests m CROSS JOIN bands WHERE m.id >= printf('m%08d', {len(targets)})""")
    db.execute("COMMIT")
    inserted = time.perf_counter()
    for _name, sql in indexes:
        db.execute(sql)
    # No ANALYZE: the store never runs it on SQLite, so users' files have no statistics (with them, SQLite
    # plans the old join well too: 42 ms vs 37 ms at 10^5, where without them it read every band row)
    db.close()
    return {"insert_s": round(inserted - started, 1), "index_s": round(time.perf_counter() - inserted, 1),
            "size_gb": round(path.stat().st_size / 1e9, 2)}


def build_postgres(url: str, count: int, targets: np.ndarray, revision: str) -> dict[str, float]:
    """The same ledger on PostgreSQL: filler from ``generate_series`` inside the server, the band table's
    primary key and indexes built after the load (with ``maintenance_work_mem`` raised for the sorts)."""
    import psycopg

    from provenance.store import get_engine, upgrade

    upgrade(url, revision)
    old = revision != "head"
    get_engine(url).dispose()
    started = time.perf_counter()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as db:
        db.execute("SET maintenance_work_mem = '1GB'")
        db.execute("SET synchronous_commit = off")
        db.execute("SET session_replication_role = replica")  # no foreign-key trigger per band row
        indexes = db.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'manifest_bands' "
                             "AND indexname NOT LIKE '%pkey'").fetchall()
        key = db.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'manifest_bands'::regclass "
                         "AND contype = 'p'").fetchone()[0]
        with db.transaction():
            for name, _definition in indexes:
                db.execute(f"DROP INDEX {name}")
            db.execute(f"ALTER TABLE manifest_bands DROP CONSTRAINT {key}")
            manifests, bands = target_rows(targets, old)
            with db.cursor() as cursor:
                cursor.executemany("INSERT INTO manifests (id, text_sha256, tenant, body, minhash, created_at) "
                                   "VALUES (%s, %s, %s, %s, '[]', '2026-01-01 00:00:00')", manifests)
            with db.cursor().copy(f"COPY manifest_bands (manifest_id, {band_columns(old)}) FROM STDIN") as copy:
                for row in bands:
                    copy.write_row(row)
            tenant_case = ("CASE WHEN n % 2 = 0 THEN 'default' WHEN (n / 2) % 3 = 0 THEN 'newsroom' "
                           "WHEN (n / 2) % 3 = 1 THEN 'archive' ELSE 'legal' END")
            db.execute(f"""INSERT INTO manifests (id, text_sha256, tenant, body, minhash, created_at)
                SELECT 'm' || lpad(n::text, 8, '0'), lpad(to_hex(n), 64, '0'), {tenant_case}, '{{}}', '[]',
                       '2026-01-01 00:00:00' FROM generate_series({len(targets)}, {count - 1}) AS n""")
            value = f"(1 + floor(random() * {MAX_VALUE}))::bigint"
            band = f"band, {value}::text" if old else f"band::bigint * {1 << 53} + {value}"
            db.execute(f"""INSERT INTO manifest_bands (manifest_id, {band_columns(old)})
                SELECT 'm' || lpad(n::text, 8, '0'), {band}, {tenant_case}
                FROM generate_series({len(targets)}, {count - 1}) AS n CROSS JOIN generate_series(0, 127) AS band""")
        inserted = time.perf_counter()
        db.execute(f"ALTER TABLE manifest_bands ADD CONSTRAINT {key} PRIMARY KEY (id)")
        for _name, definition in indexes:
            db.execute(definition)
        db.execute("VACUUM ANALYZE manifest_bands")
        db.execute("VACUUM ANALYZE manifests")
        size = db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return {"insert_s": round(inserted - started, 1), "index_s": round(time.perf_counter() - inserted, 1),
            "size_gb": round(size / 1e9, 2)}


def queries(targets: np.ndarray, count: int, rng: np.random.Generator) -> list[tuple[object, str | None]]:
    """(TextHashes, the target it copies or None): exact copies, edited copies and unrelated documents."""
    from provenance.signals.provenance import CONTAINMENT_BOTTOM, TextHashes

    made = []
    for number in range(count):
        kind = ("exact", "edited", "unrelated", "unrelated")[number % 4]
        target = int(rng.integers(0, len(targets))) if kind != "unrelated" else None
        if target is not None:
            signature = targets[target].copy()
            if kind == "edited":
                replace = rng.random(128) < 0.5
                signature[replace] = rng.integers(1, MAX_VALUE, size=int(replace.sum()), dtype=np.uint64)
        else:
            signature = rng.integers(1, MAX_VALUE, size=128, dtype=np.uint64)
        # The rest of each permutation's bottom-k: distinct values above its minimum, as a real text's are (the
        # containment query then probes 2,048 distinct (band, bucket) pairs, not a few hundred repeats).
        low = signature[:, None].astype(np.int64) + 1
        rest = np.sort(rng.integers(low, MAX_VALUE, size=(128, CONTAINMENT_BOTTOM - 1)), axis=1).astype(np.uint64)
        bottom = np.concatenate([signature[:, None], rest], axis=1)
        # Not hex: a filler manifest's digest is its number in hex, which a query's must never equal by chance.
        digest = f"{target:064x}" if kind == "exact" else f"{number:062x}zz"
        made.append((TextHashes(digest, [int(v) for v in signature], bottom, 400), None if target is None
                     else f"m{target:08d}"))
    return made


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"n": len(ordered), "p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(ordered[-1] * 1000, 3)}


def time_lookups(connection, hashed: list, tenant: str | None, key_filter: str = "off",  # noqa: ANN001
                 answers: list | None = None) -> tuple[dict[str, float], int]:
    """Percentiles of ``lookup_hashed`` and how many queries matched; each answer (best match, near-duplicate
    and containment ids) is appended to ``answers`` when given, to compare modes."""
    from provenance.signals.provenance import lookup_hashed

    samples, matched = [], 0
    for item, _target in hashed:
        started = time.perf_counter()
        record = lookup_hashed(connection, None, [item], tenant=tenant, key_filter=key_filter)[0]
        samples.append(time.perf_counter() - started)
        matched += record["best_match"] is not None
        if answers is not None:
            answers.append((record["best_match"], [d["manifest_id"] for d in record["near_duplicates"]],
                            [d["manifest_id"] for d in record["containment"]]))
    return percentiles(samples), matched


def ledger_queries(connection, item, tenant: str, old: bool) -> list:  # noqa: ANN001
    """The two band queries of one lookup (near-duplicate, containment), as now or as revision 0009 ran them."""
    from provenance.signals.provenance import CONTAINMENT_MIN_SHARED, CONTAINMENT_QUERY_BOTTOM, NEAR_DUPLICATE_LIMIT
    from provenance.store.ledger import paramstyle_mark, shared_bands

    near = ([[v] for v in item.signature], 13)
    contained = ([row[:CONTAINMENT_QUERY_BOTTOM].tolist() for row in item.bottom], CONTAINMENT_MIN_SHARED)
    postgres = connection.dialect.name == "postgresql"
    results = []
    for buckets, needed in (near, contained):
        if not old:
            results.append(shared_bands(connection, buckets, needed, NEAR_DUPLICATE_LIMIT, tenant))
            continue
        sql = revision_0009_sql(tuple(len(values) for values in buckets), NEAR_DUPLICATE_LIMIT,
                                paramstyle_mark(connection) or "?", postgres)
        rows = connection.exec_driver_sql(sql, revision_0009_params(buckets, tenant, needed, postgres)).all()
        results.append([(manifest_id, int(count)) for manifest_id, count in rows])
    return results


def time_queries(connection, hashed: list, tenant: str, old: bool, budget: float) -> dict[str, object]:  # noqa: ANN001
    """Percentiles of the two band queries per lookup; a query still running when ``budget`` runs out is
    interrupted (SQLite's interrupt; PostgreSQL's ``statement_timeout``) and reported as ``interrupted_at_ms``,
    a lower bound on its time."""
    import threading

    from sqlalchemy.exc import DBAPIError

    postgres = connection.dialect.name == "postgresql"
    samples: list[float] = []
    timer = threading.Timer(budget, connection.connection.dbapi_connection.interrupt) \
        if budget != float("inf") and not postgres else None
    if timer is not None:
        timer.start()
    deadline = time.perf_counter() + budget
    try:
        for item, _target in hashed:
            if postgres and budget != float("inf"):
                left_ms = max(1, int((deadline - time.perf_counter()) * 1000))
                connection.exec_driver_sql(f"SET statement_timeout = {left_ms}")
            started = time.perf_counter()
            try:
                ledger_queries(connection, item, tenant, old)
            except DBAPIError:
                connection.rollback()
                interrupted = time.perf_counter() - started
                result: dict[str, object] = percentiles(samples) if samples else {"n": 0}
                return {**result, "interrupted_at_ms": round(interrupted * 1000, 1)}
            samples.append(time.perf_counter() - started)
            if time.perf_counter() > deadline:
                break
    finally:
        if timer is not None:
            timer.cancel()
        if postgres:
            connection.exec_driver_sql("SET statement_timeout = 0")
    return percentiles(samples)


def run_scale(directory: Path, count: int, args: argparse.Namespace, server=None) -> dict[str, object]:  # noqa: ANN001
    """Build one ledger of ``count`` manifests (a file, or a fresh database on ``server``), time it, drop it."""
    from provenance.store import get_engine, upgrade

    rng = np.random.default_rng(count)
    targets = rng.integers(1, MAX_VALUE, size=(min(args.targets, count), 128), dtype=np.uint64)
    path = directory / f"ledger-{count}.sqlite"
    revision = "0009" if args.baseline else "head"
    if server is None:
        url = f"sqlite:///{path}"
        built = build_sqlite(path, count, targets, revision)
    else:
        url = server.create_database(f"ledger_{count}")
        built = build_postgres(url, count, targets, revision)
    hashed = queries(targets, args.lookups, rng)
    tenant_hashed = [(item, target) for item, target in hashed
                     if target is None or tenant_of(int(target[1:])) == "default"]
    result: dict[str, object] = {"manifests": count, "band_rows": count * 128, "target_manifests": len(targets),
                                 "build": {**built, "revision": revision}}
    old_answers: list = []
    if args.baseline:
        engine = get_engine(url)
        with engine.connect() as connection:
            time_queries(connection, tenant_hashed, "default", True, args.baseline_budget / 2)  # warm the cache
            old_queries = time_queries(connection, tenant_hashed, "default", True, args.baseline_budget)
            old_answers = [ledger_queries(connection, item, "default", True) for item, _ in tenant_hashed[:50]]
        engine.dispose()
        started = time.perf_counter()
        upgrade(url)  # the real migration, 0009 -> head, on the whole ledger
        result["migrate_to_head_s"] = round(time.perf_counter() - started, 1)
        if server is not None:
            import psycopg

            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as db:
                db.execute("VACUUM ANALYZE manifest_bands")  # what autovacuum does after a rewrite
            result["migrate_to_head_s"] = round(time.perf_counter() - started, 1)
        result["revision_0009_queries"] = old_queries
    engine = get_engine(url)
    mode = Settings().ledger_key_filter if args.key_filter == "default" else args.key_filter
    with engine.connect() as connection:
        # One untimed pass of every query first: whichever mode ran first otherwise paid for reading the index
        # into the page cache. The key filter is built (and waited for) before the timed passes: a process
        # builds it once, in the background, and keeps it.
        time_lookups(connection, hashed, "default")
        time_lookups(connection, hashed, None)
        started = time.perf_counter()
        built = band_filter.wait_until_built(connection, mode) if mode != "off" else False
        filter_s = round(time.perf_counter() - started, 1)
        stats = band_filter.filter_stats(connection) or {}
        unfiltered: list = []
        filtered: list = []
        no_filter, _ = time_lookups(connection, tenant_hashed, "default", "off", unfiltered)
        with_tenant, matched_tenant = time_lookups(connection, tenant_hashed, "default", mode, filtered)
        without, matched_all = time_lookups(connection, hashed, None, mode)
        no_filter_again, _ = time_lookups(connection, tenant_hashed, "default", "off")
        new_queries = time_queries(connection, tenant_hashed, "default", False, float("inf"))
        same = all(ledger_queries(connection, item, "default", False) == answer
                   for (item, _), answer in zip(tenant_hashed, old_answers, strict=False)) if old_answers else None
    engine.dispose()
    band_filter.forget_filters()
    if server is None:
        path.unlink()
    else:
        import psycopg

        with psycopg.connect(server.url().replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE ledger_{count}")
    result.update({"key_filter": {"mode": mode, "built": built, "build_s": filter_s,
                                  "rows": stats.get("rows", 0), "megabytes": round(stats.get("bytes", 0) / 2**20)},
                   "lookup_with_tenant": {**with_tenant, "matched": matched_tenant},
                   "lookup_with_tenant_no_filter": no_filter, "lookup_with_tenant_no_filter_again": no_filter_again,
                   "no_filter_over_filter_p50": round(min(no_filter["p50_ms"], no_filter_again["p50_ms"])
                                                      / max(with_tenant["p50_ms"], 1e-6), 2),
                   "same_answers_with_and_without_filter": filtered == unfiltered,
                   "lookup_without_tenant": {**without, "matched": matched_all},
                   "band_queries_with_tenant": new_queries})
    if args.baseline:
        result["revision_0009_over_now_p50"] = round(float(old_queries["p50_ms"]) / max(new_queries["p50_ms"], 1e-6), 2)
        result["revision_0009_over_now_p99"] = round(float(old_queries["p99_ms"]) / max(new_queries["p99_ms"], 1e-6), 2)
        result["same_answers_as_revision_0009"] = same
    result["goal_met"] = with_tenant["p50_ms"] <= GOAL_P50_MS and with_tenant["p99_ms"] <= GOAL_P99_MS
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    return result


def start_postgres(directory: Path, shared_buffers: str):  # noqa: ANN201
    """A loopback PostgreSQL for the bench, with a larger buffer cache than initdb's default (what a server
    holding a 10^6-manifest ledger would be given) and fewer checkpoints during the load; WAL is capped at
    2 GB so the build needs little disk beyond the ledger itself (about 21 GB at 10^6); fsync is off as in
    the drills."""
    import psycopg

    from testkit.services import PostgresServer, postgres_bindir

    bindir = postgres_bindir()
    if bindir is None:
        raise SystemExit("--store postgres needs PostgreSQL's server binaries (initdb, postgres) installed")
    directory.parent.chmod(0o711)  # the server runs as the postgres user (as root): it must reach its folder
    directory.mkdir()
    server = PostgresServer(bindir, directory)
    server.start()
    server.create_database("bench_setup")
    with psycopg.connect(server.url().replace("+psycopg", ""), autocommit=True) as admin:
        for setting in (f"shared_buffers = '{shared_buffers}'", "max_wal_size = '2GB'", "checkpoint_timeout = '30min'",
                        "effective_cache_size = '8GB'"):
            admin.execute(f"ALTER SYSTEM SET {setting}")
    server.restart()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                        help="sqlite (the default store, a file) or postgres (a loopback server in a temp dir)")
    parser.add_argument("--scales", default="100000,1000000", help="comma-separated manifest counts")
    parser.add_argument("--lookups", type=int, default=1000, help="timed lookups per mode and scale")
    parser.add_argument("--targets", type=int, default=2000, help="manifests with known signatures")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="build at revision 0009, time its queries, migrate to head, time again (default)")
    parser.add_argument("--baseline-budget", type=float, default=60.0,
                        help="seconds per scale for timing revision 0009's queries")
    parser.add_argument("--key-filter", choices=("default", "auto", "on", "off"), default="default",
                        help="the ledger key filter of the timed lookups (default: the settings' default, what "
                        "users get); lookups without it are timed in the same run either way")
    parser.add_argument("--shared-buffers", default="2GB", help="PostgreSQL's buffer cache (--store postgres)")
    parser.add_argument("--directory", default=None,
                        help="where the SQLite files or the PostgreSQL data directory go (default: a temp dir)")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="provenance-bench-ledger-", dir=args.directory))
    os.environ.setdefault("PROVENANCE_HOME", str(directory / "home"))
    server = None
    try:
        if args.store == "postgres":
            server = start_postgres(directory / "pg", args.shared_buffers)
        scales = []
        for count in args.scales.split(","):
            scales.append(run_scale(directory, int(count), args, server))
            print(json.dumps(scales[-1]), file=sys.stderr, flush=True)  # each scale as it ends (10^6 is slow)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps({
        "benchmark": "ledger_scale", "store": "sqlite (default)" if server is None else "postgresql (loopback)",
        "signatures": "synthetic (random 53-bit)",
        "query_tenant": "default (half of the ledger)", "lookups": args.lookups,
        "goal": {"tenant_p50_ms": GOAL_P50_MS, "tenant_p99_ms": GOAL_P99_MS, "at": "largest scale"},
        "cpu_count": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2), "scales": scales,
        "baseline": "revision 0009's band queries on the same ledger before migrating" if args.baseline else None,
        "goal_met": scales[-1]["goal_met"],
    }, indent=2))


if __name__ == "__main__":
    main()
