"""The tenant-scoped ledger query is answered from the (band, bucket, tenant) index, on SQLite and on a real
PostgreSQL server, and returns what the former join on ``manifests`` returned; revision 0005 fills the band
rows' tenant in from their manifests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import text

from provenance.store import get_engine, session_scope, upgrade
from provenance.store.ledger import (
    _shared_bands_array_sql,
    _shared_bands_sql,
    near_duplicate_ids,
    record_manifest,
    shared_bands,
)
from provenance.store.schema import head_revision

TENANTS = ("default", "newsroom", "archive")
INDEX = "ix_manifest_bands_bucket_tenant"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("postgres_url")


def _signature(rng: random.Random) -> list[int]:
    return [rng.randrange(1, (1 << 53) - 2) for _ in range(128)]


def _edited(signature: list[int], keep: float, rng: random.Random) -> list[int]:
    """A signature sharing about ``keep`` of its values with ``signature`` (an edited copy's)."""
    return [value if rng.random() < keep else rng.randrange(1, (1 << 53) - 2) for value in signature]


def _fill(url: str, count: int, seed: int = 7) -> dict[str, list[int]]:
    """``count`` invented manifests spread over three tenants (the ledger code path, unsigned bodies)."""
    rng = random.Random(seed)
    signatures: dict[str, list[int]] = {}
    with session_scope(url) as session:
        for index in range(count):
            manifest_id = f"m{index:05d}"
            signatures[manifest_id] = _signature(rng)
            record_manifest(session, {"id": manifest_id, "text_sha256": f"{index:064x}",
                                      "minhash": {"values": signatures[manifest_id]}},
                            tenant=TENANTS[index % len(TENANTS)])
    with get_engine(url).begin() as connection:
        connection.execute(text("ANALYZE"))
    return signatures


def _joined(connection, buckets: list[list[int]], needed: int, limit: int, tenant: str) -> list[tuple[str, int]]:
    """What the query answered before revision 0005: band rows joined to their manifest, filtered by its tenant."""
    terms, params = [], {"tenant": tenant, "needed": needed}
    for band, values in enumerate(buckets):
        names = []
        for position, value in enumerate(values):
            params[f"v{band}_{position}"] = str(value)
            names.append(f":v{band}_{position}")
        terms.append(f"(b.band = {band} AND b.bucket IN ({', '.join(names)}))")
    rows = connection.execute(text(
        "SELECT b.manifest_id, COUNT(*) FROM manifest_bands b JOIN manifests m ON m.id = b.manifest_id "
        f"WHERE m.tenant = :tenant AND ({' OR '.join(terms)}) GROUP BY b.manifest_id "
        f"HAVING COUNT(*) >= :needed ORDER BY COUNT(*) DESC, b.manifest_id LIMIT {limit}"), params).all()
    return [(manifest_id, int(count)) for manifest_id, count in rows]


def _queries(signatures: dict[str, list[int]]) -> list[tuple[list[list[int]], int]]:
    """Near-duplicate queries (edited copies of stored signatures, and unrelated ones) and containment-shaped
    queries (several values per band) mixing two stored manifests."""
    rng = random.Random(11)
    ids = sorted(signatures)
    queries = []
    for manifest_id in rng.sample(ids, 12):
        queries.append(([[v] for v in _edited(signatures[manifest_id], rng.choice((0.15, 0.4, 0.9)), rng)], 13))
    queries.append(([[v] for v in _signature(rng)], 13))
    for first, second in zip(rng.sample(ids, 4), rng.sample(ids, 4), strict=True):
        buckets = [[a, b, rng.randrange(1, 1 << 52)] for a, b in zip(signatures[first], signatures[second],
                                                                      strict=True)]
        queries.append((buckets, 16))
    return queries


def test_tenant_lookup_returns_what_the_join_returned(db_url: str) -> None:
    upgrade(db_url)
    signatures = _fill(db_url, 240)
    hits = 0
    with get_engine(db_url).connect() as connection:
        for buckets, needed in _queries(signatures):
            for tenant in TENANTS:
                found = shared_bands(connection, buckets, needed, 5, tenant)
                assert found == _joined(connection, buckets, needed, 5, tenant)
                hits += len(found)
            everyone = shared_bands(connection, buckets, needed, 5)
            assert {m for m, _ in everyone} <= set(signatures)
        # A stored manifest is found by its own signature, only under its own tenant.
        own = near_duplicate_ids(connection, signatures["m00004"], tenant=TENANTS[4 % 3])
        assert own[0] == ("m00004", 1.0)
        assert all(m != "m00004" for m, _ in near_duplicate_ids(connection, signatures["m00004"], tenant="archive"))
    assert hits > 0  # the comparison covered queries that match, not only empty answers


def _explain(connection, tenant: str, signature: list[int]) -> str:
    pairs = [(band, [str(value)]) for band, value in enumerate(signature)]
    params = [item for band, values in pairs for item in (tenant, band, *values)] + [13]
    if connection.dialect.name == "sqlite":
        sql = _shared_bands_sql("?", tuple(1 for _ in pairs), 5, True)
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(params)).all()
        return "\n".join(str(row[-1]) for row in rows)
    # PostgreSQL runs the array form: one term per band, its values as one array literal
    params = [item for _, values in pairs for item in ("{" + ",".join(values) + "}", tenant)] + [13]
    sql = _shared_bands_array_sql(tuple(band for band, _ in pairs), 5, True)
    return "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, tuple(params)).all())


def test_tenant_lookup_is_answered_from_the_tenant_band_index(db_url: str) -> None:
    upgrade(db_url)
    signatures = _fill(db_url, 240)
    with get_engine(db_url).connect() as connection:
        plan = _explain(connection, "newsroom", signatures["m00001"])
    assert INDEX in plan, plan
    assert "manifests" not in plan.replace("manifest_bands", ""), plan  # no join
    if db_url.startswith("sqlite"):
        # every OR term is one search of the index on all three columns, never a scan
        searches = [line for line in plan.splitlines() if line.startswith("SEARCH")]
        assert len(searches) == 128, plan
        assert all(f"{INDEX} (band=? AND bucket=? AND tenant=?)" in line for line in searches), plan
        assert not any(line.startswith("SCAN") for line in plan.splitlines()), plan
    else:
        # one search of the index on all three columns per band, never a scan of the band rows
        conditions = [line.strip() for line in plan.splitlines() if "Index Cond:" in line]
        assert "Seq Scan" not in plan, plan
        assert len(conditions) == 128, plan
        assert all("band = " in line and "bucket)::text = ANY" in line and "tenant)::text = 'newsroom'" in line
                   for line in conditions), plan


def test_revision_0005_fills_in_the_tenant_of_existing_band_rows(db_url: str) -> None:
    upgrade(db_url, "0004")
    with get_engine(db_url).begin() as connection:
        for index, tenant in enumerate(("default", "newsroom", "newsroom")):
            connection.execute(text("INSERT INTO manifests (id, text_sha256, tenant, body, minhash, created_at) "
                                    "VALUES (:id, :sha, :tenant, '{}', '[]', CURRENT_TIMESTAMP)"),
                               {"id": f"old{index}", "sha": f"{index:064x}", "tenant": tenant})
            for band in range(3):
                connection.execute(text("INSERT INTO manifest_bands (manifest_id, band, bucket) "
                                        "VALUES (:id, :band, :bucket)"),
                                   {"id": f"old{index}", "band": band, "bucket": str(1000 + index)})
    assert upgrade(db_url) == ("0004", head_revision())
    with get_engine(db_url).connect() as connection:
        rows = connection.execute(text("SELECT manifest_id, tenant, COUNT(*) FROM manifest_bands "
                                       "GROUP BY manifest_id, tenant ORDER BY manifest_id")).all()
        assert [tuple(row) for row in rows] == [("old0", "default", 3), ("old1", "newsroom", 3),
                                                ("old2", "newsroom", 3)]
        assert shared_bands(connection, [[1001], [1001], [1001]], 2, 5, "newsroom") == [("old1", 3)]
        assert shared_bands(connection, [[1001], [1001], [1001]], 2, 5, "default") == []
