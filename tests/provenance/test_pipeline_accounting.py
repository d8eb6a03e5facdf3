"""Submission and chunk processing in-process, on real SQLite and PostgreSQL, with the real scorer.

The broker is the one seam replaced here (sent chunk ids are collected and processed by the test, sometimes
twice, to play a re-delivery); tests/provenance/test_pipeline_workers.py runs the same path through real workers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from provenance.pipeline import processing, submission
from provenance.pipeline.export import iter_verdicts
from provenance.pipeline.jobs import job_summary
from provenance.settings import Settings
from provenance.store import Chunk, JobItem, StagedText, VerdictRow, session_scope, utcnow
from testkit.texts import synthetic_paragraphs
from tests.provenance.conftest import pipeline_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, pipeline_home: Path, micro_model_dir: Path,
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    url = f"sqlite:///{pipeline_home / 'db.sqlite'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_url")
    return pipeline_settings(pipeline_home, micro_model_dir, url, monkeypatch)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    chunk_ids: list[int] = []
    monkeypatch.setattr(submission, "send_chunk", lambda _settings, chunk_id: chunk_ids.append(chunk_id))
    return chunk_ids


def _dump(path: Path, texts: list[str], bad_lines: dict[int, bytes]) -> Path:
    lines = [json.dumps({"id": f"doc-{i}", "text": text}).encode() for i, text in enumerate(texts)]
    for index, raw in bad_lines.items():
        lines.insert(index, raw)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_every_record_ends_as_one_verdict_duplicate_or_quarantine(settings: Settings, sent: list[int],
                                                                 tmp_path: Path) -> None:
    texts = synthetic_paragraphs(30, seed=5)
    texts += [texts[0], texts[3]]  # two exact duplicates
    texts.append("Contact Jane Smith at jane.smith@example.com or +1 415 555 0100 about the order.")
    bad = {4: b'{"id": "broken", "text": "unterminated', 9: b"\xff\xfe not utf-8", 15: b'{"id": "e", "text": "  "}'}
    dump = _dump(tmp_path / "dump.jsonl", texts, bad)

    job_id = submission.submit_paths(settings, [dump])
    assert job_summary(settings, job_id)["status"] == "running"
    for chunk_id in sent:
        assert "documents" in processing.process_chunk(settings, chunk_id)
        assert "skipped" in processing.process_chunk(settings, chunk_id)  # re-delivered: nothing happens twice

    summary = job_summary(settings, job_id, details=True)
    assert summary["status"] == "done"
    assert (summary["total"], summary["quarantined"], summary["duplicates"]) == (36, 3, 2)
    assert summary["scored"] == summary["documents"] == summary["new_verdicts"] == 31
    assert sum(summary["verdicts"][k] for k in ("machine", "human", "uncertain", "abstain")) == 31
    assert summary["verdicts"]["with_pii"] >= 1
    with session_scope(settings.resolved_database_url) as session:
        outcomes = session.execute(select(JobItem.seq, JobItem.outcome, JobItem.reason)
                                   .where(JobItem.job_id == job_id).order_by(JobItem.seq)).all()
        assert [seq for seq, _, _ in outcomes] == list(range(36))
        reasons = {seq: reason for seq, outcome, reason in outcomes if outcome == "quarantined"}
        assert set(reasons) == {4, 9, 15}
        assert "malformed JSON" in reasons[4] and "UTF-8" in reasons[9] and reasons[15] == "empty document"
        assert session.scalar(select(func.count()).select_from(StagedText)) == 0
    exported = list(iter_verdicts(settings, job_id))
    assert len(exported) == 31 and exported[0]["source_id"] == "doc-0"
    assert {"document_id", "source_id", "p_machine", "verdict", "watermark", "pii_count"} <= set(exported[0])
    assert {"z_score", "p_value", "watermarked", "key_id"} <= set(exported[0]["watermark"])
    pii_record = next(r for r in exported if r["source_id"] == "doc-32")
    assert pii_record["pii_count"] >= 2

    sent.clear()
    again = submission.submit_paths(settings, [dump])
    second = job_summary(settings, again)
    assert sent == [] and second["status"] == "done"
    assert (second["new_verdicts"], second["already_scored"], second["scored"]) == (0, 31, 31)
    with session_scope(settings.resolved_database_url) as session:
        assert session.scalar(select(func.count()).select_from(VerdictRow)) == 31


def test_an_expired_lease_hands_the_chunk_over_and_the_late_writer_is_refused(settings: Settings,
                                                                             sent: list[int]) -> None:
    job_id = submission.submit_records(settings, [{"id": i, "text": t} for i, t in
                                                  enumerate(synthetic_paragraphs(5, seed=9))], inputs={})
    (chunk_id,) = sent
    url = settings.resolved_database_url
    with session_scope(url) as session:
        assert processing.claim_chunk(session, chunk_id, "worker-a", lease_seconds=60)
    with session_scope(url) as session:
        assert not processing.claim_chunk(session, chunk_id, "worker-b", lease_seconds=60)  # lease still held
        session.execute(update(Chunk).where(Chunk.id == chunk_id).values(lease_until=utcnow()))
    outcome = processing.process_chunk(settings, chunk_id)  # takes the expired chunk over
    assert outcome["new_verdicts"] == 5
    assert job_summary(settings, job_id)["status"] == "done"


def test_a_retry_of_the_same_task_reowns_its_chunk_and_no_other_claim_does(settings: Settings,
                                                                         sent: list[int]) -> None:
    """A task whose write failed on a transient error left its chunk running: its retry (same task id, any
    host) takes it back at once; another task, or a claim without a task, still waits for the lease."""
    submission.submit_records(settings, [{"id": i, "text": t} for i, t in
                                         enumerate(synthetic_paragraphs(4, seed=10))], inputs={})
    (chunk_id,) = sent
    url = settings.resolved_database_url
    first = processing.claim_token("task-one")
    with session_scope(url) as session:
        assert processing.claim_chunk(session, chunk_id, first, lease_seconds=600) == "queued"
    with session_scope(url) as session:
        assert processing.claim_chunk(session, chunk_id, processing.claim_token("task-two"), 600) is None
        assert processing.claim_chunk(session, chunk_id, processing.claim_token(), 600) is None
        assert processing.claim_chunk(session, chunk_id, processing.claim_token("task-on"), 600) is None  # a prefix
    outcome = processing.process_chunk(settings, chunk_id, task_id="task-one")  # the retry
    assert (outcome["claim"], outcome["new_verdicts"]) == ("retry", 4)
    with session_scope(url) as session:
        chunk = session.get(Chunk, chunk_id)
        assert (chunk.status, chunk.attempts) == ("done", 2)


def test_resume_continues_after_the_last_committed_batch(settings: Settings, sent: list[int], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    dump = _dump(tmp_path / "dump.jsonl", synthetic_paragraphs(40, seed=2), {})
    monkeypatch.setattr(submission, "RECORDS_PER_COMMIT", 8)  # one chunk per transaction, as with a big dump
    real_commit = submission._commit_batch
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(submission, "_commit_batch", interrupted)
    jobs: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        submission.submit_paths(settings, [dump], on_job=jobs.append)
    monkeypatch.setattr(submission, "_commit_batch", real_commit)
    assert job_summary(settings, jobs[0])["total"] == 16
    assert submission.resume(settings, jobs[0]) == 16
    for chunk_id in dict.fromkeys(sent):
        processing.process_chunk(settings, chunk_id)
    summary = job_summary(settings, jobs[0])
    assert (summary["status"], summary["total"], summary["scored"]) == ("done", 40, 40)
