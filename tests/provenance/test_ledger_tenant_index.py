"""The tenant-scoped ledger query is answered from the (band_key, tenant) index, on SQLite and on a real
PostgreSQL server, and returns what the former join on ``manifests`` returned; revision 0005 fills the band
rows' tenant in from their manifests; revision 0010 turns (band, bucket) into one key and back."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import text

from provenance.store import get_engine, session_scope, upgrade
from provenance.store.ledger import (
    _shared_bands_array_sql,
    _shared_bands_sql,
    band_key,
    near_duplicate_ids,
    record_manifest,
    shared_bands,
)
from provenance.store.schema import downgrade, head_revision

TENANTS = ("default", "newsroom", "archive")
INDEX = "ix_manifest_bands_key_tenant"


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
    """The query's meaning spelled out as before revision 0005: band rows joined to their manifest, filtered by
    the manifest's tenant, each (band, value) probed on its own."""
    terms, params = [], {"tenant": tenant, "needed": needed}
    for band, values in enumerate(buckets):
        for position, value in enumerate(values):
            params[f"v{band}_{position}"] = band_key(band, value)
            terms.append(f"b.band_key = :v{band}_{position}")
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
    keys = [band_key(band, value) for band, value in enumerate(signature)]
    if connection.dialect.name == "sqlite":
        sql = _shared_bands_sql("?", len(keys), 5, True)
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, (*keys, tenant, 13)).all()
        return "\n".join(str(row[-1]) for row in rows)
    # PostgreSQL runs the array form: every key in one array literal
    sql = _shared_bands_array_sql(5, True)
    literal = "{" + ",".join(map(str, keys)) + "}"
    return "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, (literal, tenant, 13)).all())


def test_tenant_lookup_is_answered_from_the_tenant_band_index(db_url: str) -> None:
    upgrade(db_url)
    signatures = _fill(db_url, 240)
    with get_engine(db_url).connect() as connection:
        plan = _explain(connection, "newsroom", signatures["m00001"])
    assert INDEX in plan, plan
    assert "manifests" not in plan.replace("manifest_bands", ""), plan  # no join
    if db_url.startswith("sqlite"):
        # one search of the index on both columns (SQLite probes it once per listed key), never a scan
        searches = [line for line in plan.splitlines() if line.startswith("SEARCH")]
        assert searches == [f"SEARCH b USING INDEX {INDEX} (band_key=? AND tenant=?)"], plan
        assert not any(line.startswith("SCAN") for line in plan.splitlines()), plan
    else:
        # one index scan with both columns in its condition, never a scan of the band rows
        conditions = [line.strip() for line in plan.splitlines() if "Index Cond:" in line]
        assert "Seq Scan" not in plan, plan
        assert len(conditions) == 1, plan
        assert "band_key = ANY" in conditions[0] and "tenant)::text = 'newsroom'" in conditions[0], plan


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


def test_revision_0010_keys_existing_band_rows_and_downgrades_back(db_url: str) -> None:
    """Rows written as (band, bucket) before revision 0010 are found by their key after it (largest 53-bit
    values and the last band included), and a downgrade gives the same (band, bucket) pairs back."""
    rng = random.Random(3)
    top = (1 << 53) - 2
    rows = [(f"k{index}", band, value) for index in range(3) for band, value in
            ((0, 1 + index), (64, rng.randrange(1, top)), (127, top - index))]
    upgrade(db_url, "0009")
    with get_engine(db_url).begin() as connection:
        for index in range(3):
            connection.execute(text("INSERT INTO manifests (id, text_sha256, tenant, body, minhash, created_at) "
                                    "VALUES (:id, :sha, 'default', '{}', '[]', CURRENT_TIMESTAMP)"),
                               {"id": f"k{index}", "sha": f"{index:064x}"})
        for manifest_id, band, value in rows:
            connection.execute(text("INSERT INTO manifest_bands (manifest_id, band, bucket, tenant) "
                                    "VALUES (:id, :band, :bucket, 'default')"),
                               {"id": manifest_id, "band": band, "bucket": str(value)})
    assert upgrade(db_url) == ("0009", head_revision())
    with get_engine(db_url).connect() as connection:
        keyed = connection.execute(text("SELECT manifest_id, band_key FROM manifest_bands ORDER BY id")).all()
        assert [tuple(row) for row in keyed] == [(m, band_key(band, value)) for m, band, value in rows]
        probe = [[3]] + [[] for _ in range(126)] + [[top - 2]]  # manifest k2's first and last band
        assert shared_bands(connection, probe, 2, 5, "default") == [("k2", 2)]
    downgrade(db_url, "0009")
    with get_engine(db_url).connect() as connection:
        split = connection.execute(text("SELECT manifest_id, band, bucket FROM manifest_bands ORDER BY id")).all()
    assert [tuple(row) for row in split] == [(m, band, str(value)) for m, band, value in rows]
