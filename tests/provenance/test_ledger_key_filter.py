"""The ledger key filter (a per-process Bloom filter of band keys) changes how many keys a lookup probes,
never what it answers: on SQLite and on a real PostgreSQL server, with manifests written before and after it
was built, after a bulk import larger than one catch-up, and after the database under its URL was replaced."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

from provenance.settings import Settings
from provenance.store import band_filter, get_engine, session_scope, upgrade
from provenance.store.band_filter import BloomWords, filter_stats, keys_to_probe, wait_until_built
from provenance.store.ledger import (
    LEDGER_WRITE_LOCK,
    _band_key_array,
    near_duplicate_ids,
    record_manifest,
    shared_bands,
)
from tests.provenance.test_ledger_tenant_index import TENANTS, _fill, _queries, _signature


@pytest.fixture(autouse=True)
def _fresh_filters():
    band_filter.forget_filters()
    yield
    band_filter.forget_filters()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("postgres_url")


def _answers(connection, queries, mode: str) -> list:  # noqa: ANN001
    return [(shared_bands(connection, buckets, needed, 5, tenant, mode), shared_bands(connection, buckets, needed, 5,
                                                                                        None, mode))
            for buckets, needed in queries for tenant in TENANTS]


def _record(url: str, manifest_id: str, signature: list[int], tenant: str = "default") -> None:
    with session_scope(url) as session:
        record_manifest(session, {"id": manifest_id, "text_sha256": manifest_id.rjust(64, "0"),
                                  "minhash": {"values": signature}}, tenant=tenant)


def _ledger_with_filter(url: str, count: int) -> Engine:
    """A migrated ledger of ``count`` invented manifests, and this process's key filter of it, built."""
    upgrade(url)
    _fill(url, count)
    engine = get_engine(url)
    with engine.connect() as connection:
        assert wait_until_built(connection, "on", timeout=60)
    return engine


def test_bloom_words_never_lose_a_key_and_rarely_claim_one() -> None:
    rng = np.random.default_rng(5)
    added = rng.integers(0, 1 << 60, size=200_000, dtype=np.uint64)
    bloom = BloomWords(added.size)
    bloom.add(added[:150_000])
    bloom.add(added[150_000:])  # in two parts, as builds and catch-ups add them
    assert bloom.may_contain(added).all()
    others = rng.integers(0, 1 << 60, size=200_000, dtype=np.uint64)
    false_positive = float(bloom.may_contain(others[~np.isin(others, added)]).mean())
    assert false_positive < 0.05, false_positive  # about 2% at 8 keys per word
    assert not bloom.full


def test_lookups_with_the_filter_answer_as_without_it(db_url: str) -> None:
    upgrade(db_url)
    signatures = _fill(db_url, 240)
    queries = _queries(signatures)
    with get_engine(db_url).connect() as connection:
        unfiltered = _answers(connection, queries, "off")
        assert wait_until_built(connection, "on", timeout=60)
        assert filter_stats(connection)["rows"] == 240 * 128
        assert _answers(connection, queries, "on") == unfiltered
        # An unrelated text's keys are almost all left out (the point of the filter); a stored manifest's stay.
        stranger = _band_key_array(np.asarray(_signature(random.Random(99)), dtype=np.uint64)[:, None])
        assert keys_to_probe(connection, stranger, "on").size <= 12
        own = _band_key_array(np.asarray(signatures["m00007"], dtype=np.uint64)[:, None])
        assert keys_to_probe(connection, own, "on").size == 128
    assert any(found for pair in unfiltered for found in pair)  # the comparison covered matches


def test_a_manifest_written_after_the_build_is_found_by_the_next_lookup(db_url: str) -> None:
    engine = _ledger_with_filter(db_url, 30)
    late = _signature(random.Random(123))
    _record(db_url, "late-one", late)  # another transaction, after the filter read the table
    with engine.connect() as connection:
        assert near_duplicate_ids(connection, late, tenant="default", key_filter="on")[0] == ("late-one", 1.0)
        assert filter_stats(connection)["rows"] == 31 * 128


def test_a_bulk_import_larger_than_one_catch_up_is_probed_in_full_until_read(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _ledger_with_filter(db_url, 10)
    monkeypatch.setattr(band_filter, "CATCH_UP_ROWS", 200)  # 1.5 manifests per catch-up
    rng = random.Random(5)
    imported = {f"bulk{index}": _signature(rng) for index in range(6)}
    for manifest_id, signature in imported.items():
        _record(db_url, manifest_id, signature, tenant="newsroom")
    with engine.connect() as connection:
        for manifest_id, signature in imported.items():  # the last one is still past the filter's watermark
            found = near_duplicate_ids(connection, signature, tenant="newsroom", key_filter="on")
            assert found[0] == (manifest_id, 1.0)
        assert filter_stats(connection)["rows"] == 16 * 128


def test_a_replaced_database_makes_the_filter_start_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = _ledger_with_filter(url, 40)
    engine.dispose()
    for path in tmp_path.glob("store.sqlite*"):  # restored from an older backup, under the same URL
        path.unlink()
    upgrade(url)
    _fill(url, 5, seed=8)
    newer = _signature(random.Random(77))
    _record(url, "after-restore", newer)
    with engine.connect() as connection:
        assert near_duplicate_ids(connection, newer, tenant="default", key_filter="on")[0] == ("after-restore", 1.0)
        assert filter_stats(connection) is None  # dropped; the next build reads the new table
        assert wait_until_built(connection, "on", timeout=60)
        assert filter_stats(connection)["rows"] == 6 * 128
        assert near_duplicate_ids(connection, newer, tenant="default", key_filter="on")[0] == ("after-restore", 1.0)


def test_auto_leaves_a_small_ledger_to_the_index(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    upgrade(url)
    signatures = _fill(url, 20)
    assert Settings.model_fields["ledger_key_filter"].default == "auto"  # what users get
    with get_engine(url).connect() as connection:
        keys = _band_key_array(np.asarray(signatures["m00003"], dtype=np.uint64)[:, None])
        assert keys_to_probe(connection, keys, "auto").size == 128
        assert near_duplicate_ids(connection, signatures["m00003"], key_filter="auto")[0] == ("m00003", 1.0)
        assert filter_stats(connection) is None


def test_postgres_ledger_writers_hold_the_write_lock_until_commit(postgres_url: str) -> None:
    """Band rows must become visible in id order for the filter's catch-up: a writer's transaction holds the
    ledger's advisory lock from its first manifest to its commit."""
    upgrade(postgres_url)
    engine = get_engine(postgres_url)
    with session_scope(postgres_url) as session:
        record_manifest(session, {"id": "locked", "text_sha256": "1" * 64,
                                  "minhash": {"values": _signature(random.Random(3))}})
        with engine.connect() as other:
            assert other.execute(text(f"SELECT pg_try_advisory_xact_lock({LEDGER_WRITE_LOCK})")).scalar() is False
    with engine.connect() as other:
        assert other.execute(text(f"SELECT pg_try_advisory_xact_lock({LEDGER_WRITE_LOCK})")).scalar() is True


def test_a_filter_that_fills_up_is_rebuilt_larger_while_it_serves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = _ledger_with_filter(url, 10)
    with engine.connect() as connection:
        small = filter_stats(connection)["bytes"]
    signatures = _fill(url, 110, seed=9)  # the same ids are kept: 100 new manifests
    with engine.connect() as connection:
        newest = max(signatures)
        assert near_duplicate_ids(connection, signatures[newest], key_filter="on")[0] == (newest, 1.0)
        assert wait_until_built(connection, "on", timeout=60)
        stats = filter_stats(connection)
        assert stats["rows"] == 110 * 128 and stats["bytes"] > small
        assert near_duplicate_ids(connection, signatures[newest], key_filter="on")[0] == (newest, 1.0)


def test_manifests_written_by_concurrent_writers_are_all_found(db_url: str) -> None:
    """Writers in several threads (one transaction per manifest) while lookups run: every manifest committed
    before a lookup starts is found by it. On PostgreSQL this needs the writers' advisory lock: without it a
    later transaction's higher ids could be read before an earlier one commits lower ids, and the watermark
    would pass them."""
    import threading

    engine = _ledger_with_filter(db_url, 10)
    committed: list[tuple[str, list[int]]] = []
    failures: list[BaseException] = []

    def write(worker: int) -> None:
        rng = random.Random(worker)
        try:
            for index in range(12):
                manifest_id, signature = f"w{worker}-{index}", _signature(rng)
                _record(db_url, manifest_id, signature)
                committed.append((manifest_id, signature))
        except BaseException as exc:  # noqa: BLE001 - reported below, from the test's thread
            failures.append(exc)

    writers = [threading.Thread(target=write, args=(worker,)) for worker in range(3)]
    for writer in writers:
        writer.start()
    checked = 0
    with engine.connect() as connection:
        while any(writer.is_alive() for writer in writers) or checked < len(committed):
            if checked < len(committed):
                manifest_id, signature = committed[checked]
                found = near_duplicate_ids(connection, signature, tenant="default", key_filter="on")
                assert found and found[0] == (manifest_id, 1.0), (manifest_id, found)
                checked += 1
            connection.rollback()  # a fresh snapshot for the next lookup
    for writer in writers:
        writer.join()
    assert not failures, failures
    assert checked == 36


def test_an_in_memory_database_is_never_filtered() -> None:
    """Every in-memory SQLite database has the same URL, so a filter kept by URL could describe another one."""
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    keys = np.arange(1, 200, dtype=np.uint64)
    with engine.connect() as connection:
        assert keys_to_probe(connection, keys, "on") is keys
    assert not band_filter._filters
