"""`provenance generate` writes every signed manifest to the ledger, with an audit row per generation."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from provenance.settings import Settings
from provenance.store import AuditLog, Manifest, session_scope
from provenance.store.ledger import record_generations
from tests.provenance.test_cli_watermark import generate_rows


def test_generate_writes_manifests_and_audit_rows_to_the_ledger(capsys, clean_env: Path, micro_model_dir: Path,
                                                                monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    rows = generate_rows(capsys)
    settings = Settings(home=clean_env)
    with session_scope(settings.resolved_database_url) as session:
        stored = {m.id: m for m in session.scalars(select(Manifest))}
        assert set(stored) == {row["manifest"]["id"] for row in rows}
        for row in rows:
            assert stored[row["manifest"]["id"]].body == row["manifest"]
            assert stored[row["manifest"]["id"]].text_sha256 == row["manifest"]["text_sha256"]
        audits = session.scalars(select(AuditLog).where(AuditLog.action == "generate")).all()
        assert sorted(a.subject_id for a in audits) == sorted(stored)
        assert all("text" not in a.details for a in audits)


def test_toxicity_events_are_audited_without_the_text(clean_env: Path) -> None:
    settings = Settings(home=clean_env)
    event = {"action": "withheld", "manifest_id": "m1", "p_toxic": 0.97, "threshold": 0.6, "categories": ["hate"],
             "text_sha256": "ab" * 32, "text": "never stored", "prompt": "never stored either"}
    record_generations(settings, [], actor="cli:test", toxicity_events=[event])
    with session_scope(settings.resolved_database_url) as session:
        (row,) = session.scalars(select(AuditLog)).all()
    assert (row.action, row.subject_id, row.details["p_toxic"]) == ("generation_withheld", "m1", 0.97)
    assert "text" not in row.details and "prompt" not in row.details
