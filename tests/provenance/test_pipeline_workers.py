"""The pipeline through real processes: `provenance worker` (Celery prefork) on the embedded SQLite broker and
on a real redis-server, `provenance scan` as a subprocess, workers killed with SIGKILL and Redis restarted in
the middle of a job. Every input line must end as exactly one verdict or one quarantine record.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from provenance.settings import Settings
from provenance.store import JobItem, ScanJob, StagedText, VerdictRow, WorkerHeartbeat, session_scope
from testkit.texts import synthetic_paragraphs
from testkit.workers import WorkerProcess, wait_job
from tests.provenance.conftest import pipeline_env

CONTRACT_KEYS = {"job_id", "status", "total", "scored", "quarantined", "duplicates"}
JOB_TIMEOUT = 300


def cli(env: dict[str, str], *args: str, timeout: float = JOB_TIMEOUT) -> dict:
    done = subprocess.run([sys.executable, "-m", "provenance.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.kill()


def write_dump(path: Path, count: int, *, malformed: tuple[int, ...] = (), seed: int = 1) -> Path:
    texts = synthetic_paragraphs(count, seed=seed)
    lines = []
    for index, text in enumerate(texts):
        if index in malformed:
            lines.append(b'{"id": "bad-%d", "text": "cut off' % index)
        else:
            lines.append(json.dumps({"id": f"doc-{index}", "text": text}).encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def wait_for(settings: Settings, job_id: str, condition, timeout: float = JOB_TIMEOUT) -> dict:  # noqa: ANN001
    return wait_job(settings, job_id, condition, timeout=timeout)


def assert_each_line_once(settings: Settings, job_id: str, lines: int) -> None:
    """Every input line: exactly one job item; each document item: exactly one verdict; nothing staged."""
    with session_scope(settings.resolved_database_url) as session:
        job = session.get(ScanJob, job_id)
        items = session.execute(select(JobItem.seq, JobItem.outcome, JobItem.document_id, JobItem.reason)
                                .where(JobItem.job_id == job_id).order_by(JobItem.seq)).all()
        assert [item.seq for item in items] == list(range(lines))
        documents = [item.document_id for item in items if item.outcome == "document"]
        verdicts = session.execute(select(VerdictRow.document_id, func.count()).where(
            VerdictRow.document_id.in_(documents), VerdictRow.bundle_version == job.bundle_version)
            .group_by(VerdictRow.document_id)).all()
        assert len(verdicts) == len(documents) and all(count == 1 for _, count in verdicts)
        assert all(item.reason for item in items if item.outcome == "quarantined")
        assert session.scalar(select(func.count()).select_from(StagedText)) == 0
        assert job.status == "done" and job.chunks_done == job.chunks_total


def test_scan_wait_starts_a_local_worker_quarantines_bad_lines_and_rescans_for_free(
        pipeline_home: Path, micro_model_dir: Path, tmp_path: Path) -> None:
    env = pipeline_env(pipeline_home, micro_model_dir)
    malformed = (17, 61)  # 1% of 200 lines
    dump = write_dump(tmp_path / "dump.jsonl", 200, malformed=malformed)
    first = cli(env, "scan", str(dump), "--wait", "--workers", "1", "--json")
    assert set(first) >= CONTRACT_KEYS
    assert (first["status"], first["total"], first["quarantined"]) == ("done", 200, 2)
    assert first["scored"] + first["duplicates"] + first["quarantined"] == 200
    settings = Settings(home=pipeline_home)
    shown = cli(env, "jobs", "show", first["job_id"], "--json", "--quarantine")
    assert set(shown) >= CONTRACT_KEYS and shown["status"] == "done"
    assert [q["seq"] for q in shown["quarantine"]] == list(malformed)
    assert all("malformed JSON" in q["reason"] for q in shown["quarantine"])
    assert_each_line_once(settings, first["job_id"], 200)

    second = cli(env, "scan", str(dump), "--wait", "--json")
    assert (second["status"], second["new_verdicts"], second["already_scored"]) == ("done", 0, first["scored"])
    export = subprocess.run([sys.executable, "-m", "provenance.cli", "verdicts", "export", "--job", second["job_id"],
                             "--format", "jsonl"], env=env, capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in export.stdout.splitlines()]
    assert len(records) == first["scored"]
    assert {"document_id", "source_id", "p_machine", "verdict", "watermark", "pii_count"} <= set(records[0])
    with session_scope(settings.resolved_database_url) as session:
        assert session.scalar(select(func.count()).select_from(VerdictRow)) == first["scored"]


@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_a_worker_killed_mid_job_loses_and_duplicates_nothing(broker: str, pipeline_home: Path, micro_model_dir: Path,
                                                             tmp_path: Path, workers: list[WorkerProcess],
                                                             request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("redis_server").url if broker == "redis" else None
    env = pipeline_env(pipeline_home, micro_model_dir, url)
    settings = Settings(home=pipeline_home)
    workers.append(WorkerProcess(env, pipeline_home / "worker-1.log"))
    workers[0].wait_ready()
    dump = write_dump(tmp_path / "dump.jsonl", 160, seed=7)
    submitted = cli(env, "scan", str(dump), "--json")
    assert set(submitted) >= CONTRACT_KEYS
    at_kill = wait_for(settings, submitted["job_id"], lambda s: s["chunks_done"] >= 3)
    workers[0].kill()
    assert at_kill["status"] == "running" and at_kill["chunks_done"] < at_kill["chunks_total"]
    workers.append(WorkerProcess(env, pipeline_home / "worker-2.log"))
    workers[1].wait_ready()
    wait_for(settings, submitted["job_id"], lambda s: s["status"] == "done")
    assert_each_line_once(settings, submitted["job_id"], 160)


def test_redis_restarted_mid_job_loses_and_duplicates_nothing(pipeline_home: Path, micro_model_dir: Path,
                                                              tmp_path: Path, workers: list[WorkerProcess],
                                                              redis_server) -> None:
    env = pipeline_env(pipeline_home, micro_model_dir, redis_server.url)
    settings = Settings(home=pipeline_home)
    workers.append(WorkerProcess(env, pipeline_home / "worker.log"))
    workers[0].wait_ready()
    dump = write_dump(tmp_path / "dump.jsonl", 160, seed=8)
    submitted = cli(env, "scan", str(dump), "--json")
    wait_for(settings, submitted["job_id"], lambda s: s["chunks_done"] >= 3)
    redis_server.restart()  # no persistence: every queued message is gone
    wait_for(settings, submitted["job_id"], lambda s: s["status"] == "done")
    assert_each_line_once(settings, submitted["job_id"], 160)
    assert workers[0].process.poll() is None  # the worker reconnected rather than dying


def test_worker_shuts_down_cleanly_on_sigterm(pipeline_home: Path, micro_model_dir: Path,
                                              workers: list[WorkerProcess]) -> None:
    env = pipeline_env(pipeline_home, micro_model_dir)
    workers.append(WorkerProcess(env, pipeline_home / "worker.log"))
    workers[0].wait_ready()
    assert workers[0].terminate() == 0
    settings = Settings(home=pipeline_home)
    with session_scope(settings.resolved_database_url) as session:
        assert session.scalar(select(func.count()).select_from(WorkerHeartbeat)) == 0
