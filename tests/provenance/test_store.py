"""The store on real SQLite and a real PostgreSQL server: migrations, constraints, audit log, ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from generator.stamping import build_manifest
from provenance.store import AuditLog, Document, VerdictRow, get_engine, session_scope, upgrade
from provenance.store.audit import audit
from provenance.store.ledger import exact_match, near_duplicates, record_manifest
from provenance.store.schema import ensure_schema, head_revision

TABLES = {"documents", "scan_jobs", "job_items", "chunks", "staged_texts", "verdicts", "manifests", "manifest_bands",
          "review_decisions", "review_leases", "audit_log", "api_keys", "rate_buckets", "worker_heartbeats"}


def test_upgrade_creates_every_table_and_is_idempotent(db_url: str) -> None:
    before, after = upgrade(db_url)
    assert (before, after) == (None, head_revision())
    assert set(inspect(get_engine(db_url)).get_table_names()) >= TABLES
    assert upgrade(db_url) == (after, after)
    ensure_schema(db_url, auto_upgrade=False)


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.sqlite'}"
    upgrade(url)
    with get_engine(url).connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_audit_log_refuses_update_and_delete_in_the_database(db_url: str) -> None:
    upgrade(db_url)
    with session_scope(db_url) as session:
        audit(session, actor="tester", action="verify", subject_type="text", subject_id="abc",
              details={"text_sha256": "00" * 32})
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), session_scope(db_url) as session:
            session.execute(text(statement))
    with session_scope(db_url) as session:
        assert session.scalars(select(AuditLog.actor)).all() == ["tester"]


def test_one_verdict_per_document_and_bundle_version(db_url: str) -> None:
    upgrade(db_url)
    with session_scope(db_url) as session:
        document = Document(content_hash="a" * 64, source_id="x")
        session.add(document)
        session.flush()
        session.add(VerdictRow(document_id=document.id, bundle_version="b:1", verdict="human"))
        session.add(VerdictRow(document_id=document.id, bundle_version="b:2", verdict="machine"))
    with pytest.raises(IntegrityError), session_scope(db_url) as session:
        session.add(VerdictRow(document_id=document.id, bundle_version="b:1", verdict="machine"))
    with pytest.raises(IntegrityError), session_scope(db_url) as session:
        session.add(Document(content_hash="a" * 64))


GENERATION = ("The harbour master kept a ledger of every ship that entered the bay, noting the weather, the cargo "
              "and the name of the captain. In the winter of that year the entries grew sparse, because storms "
              "closed the northern passage for weeks at a time, and the few vessels that arrived came in battered "
              "and late. He wrote that the town had never been so quiet, and that the children gathered on the "
              "pier each morning hoping to see a sail on the grey horizon before the bells rang for school.")


def _edit(text: str, fraction: float, seed: int = 3) -> str:
    import random

    words = text.split()
    rng = random.Random(seed)
    for index in rng.sample(range(len(words)), int(len(words) * fraction)):
        words[index] = rng.choice(["quietly", "boat", "river", "old", "many", "stone", "window"])
    return " ".join(words)


def test_ledger_finds_a_generation_exactly_and_after_a_fifth_of_its_words_change(db_url: str) -> None:
    upgrade(db_url)
    manifest = build_manifest(text=GENERATION, prompt="The harbour", model={"name": "m"}, decoding={},
                              watermark=None)
    other = build_manifest(text="A completely different letter about gardens, roses and the spring rain in "
                           "the valley, written by a woman to her brother abroad.", prompt="A", model={"name": "m"},
                           decoding={}, watermark=None)
    with session_scope(db_url) as session:
        record_manifest(session, manifest)
        record_manifest(session, other)
        record_manifest(session, manifest)  # idempotent on the manifest id
    with session_scope(db_url) as session:
        assert exact_match(session, GENERATION).id == manifest["id"]
        assert exact_match(session, GENERATION.replace("harbour", "harbor")) is None
        edited = _edit(GENERATION, 0.2)
        matches = near_duplicates(session, edited)
        assert [m.manifest_id for m in matches] == [manifest["id"]]
        assert 0.1 <= matches[0].similarity < 1.0
        assert near_duplicates(session, "Nothing in common with any generation at all, really nothing.") == []
