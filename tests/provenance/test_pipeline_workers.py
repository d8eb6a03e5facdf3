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

from provenance.pipeline.jobs import job_summary, job_verdict
from provenance.settings import Settings
from provenance.store import JobItem, ScanJob, StagedText, VerdictRow, WorkerHeartbeat, session_scope
from testkit.drills import SECRET, STORE_WORKER, publish_artifacts, stall_after, start_store_workers, waited_lines
from testkit.texts import synthetic_paragraphs
from testkit.waiting import wait_until
from testkit.workers import WorkerProcess, wait_job
from tests.conftest import install_bundle, write_signed_state
from tests.provenance.conftest import pipeline_env

CONTRACT_KEYS = {"job_id", "status", "total", "scored", "quarantined", "duplicates"}
ROOT = Path(__file__).resolve().parents[2]
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
        verdicts = session.execute(select(VerdictRow.document_id, func.count()).where(  # under any bundle version
            VerdictRow.document_id.in_(documents)).group_by(VerdictRow.document_id)).all()
        assert len(verdicts) == len(documents) and all(count == 1 for _, count in verdicts)
        seen = session.scalars(select(VerdictRow.document_id).join(JobItem, job_verdict(job_id, job.bundle_version))
                               .where(JobItem.job_id == job_id, JobItem.outcome == "document")).all()
        assert sorted(seen) == sorted(documents)  # the job's own view (counts, export) finds each one once
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


def _wait_for_a_blocked_writer(url: str, timeout: float = 120) -> None:
    """Until a worker's write transaction waits on the test's lock (it holds its chunk claim meanwhile)."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        wait_until(lambda: connection.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                              "AND datname = current_database()").fetchone()[0],
                   timeout=timeout, interval=0.1, what="a worker transaction waiting on the verdicts lock")


def test_postgresql_restarted_mid_write_the_task_retry_reowns_its_chunk(
        pipeline_home: Path, micro_model_dir: Path, tmp_path: Path, workers: list[WorkerProcess], postgres_server,
        postgres_url: str) -> None:
    """The drill of issue 28: a chunk's write transaction is cut by ``pg_ctl restart`` (AdminShutdown); the
    task's retry must take its own chunk back at once, not skip it as "running" and wait out the lease. The
    worker is held inside its write transaction by a table lock so the restart always lands there."""
    import psycopg

    env = pipeline_env(pipeline_home, micro_model_dir, database=postgres_url)
    env["PROVENANCE_STALL_SECONDS"] = "30"  # a lease wait (10 s) would show up as a stall re-send or takeover
    settings = Settings(home=pipeline_home, database_url=postgres_url)
    workers.append(WorkerProcess(env, pipeline_home / "worker.log"))
    workers[0].wait_ready()
    dump = write_dump(tmp_path / "dump.jsonl", 200, seed=11)
    submitted = cli(env, "scan", str(dump), "--json")
    wait_for(settings, submitted["job_id"], lambda s: s["submission_done"] and s["chunks_done"] >= 2)
    locker = psycopg.connect(postgres_url.replace("+psycopg", ""))
    locker.execute("LOCK TABLE verdicts IN ACCESS EXCLUSIVE MODE")
    _wait_for_a_blocked_writer(postgres_url)
    postgres_server.restart()
    locker.close()
    wait_for(settings, submitted["job_id"], lambda s: s["status"] == "done")
    assert_each_line_once(settings, submitted["job_id"], 200)
    log = workers[0].log.read_text()
    assert "transient error" in log and "re-owned by a retry of its own task" in log
    assert "chunk is running" not in log
    assert "after its lease expired" not in log and "after a stall" not in log


def test_a_bundle_promoted_mid_scan_reaches_the_worker_at_its_next_chunk(
        pipeline_home: Path, micro_model_dir: Path, trained_bundle: Path, tmp_path: Path,
        workers: list[WorkerProcess]) -> None:
    """No restart: the running worker judges the chunks it claims after the promotion with the new bundle, each
    chunk wholly by one bundle, and every verdict records the version that judged it."""
    from provenance.bundles import bundle_version
    from provenance.store import utcnow

    install_bundle(trained_bundle, pipeline_home, name="candidate")
    env = pipeline_env(pipeline_home, micro_model_dir)
    settings = Settings(home=pipeline_home)
    old = bundle_version(settings)
    workers.append(WorkerProcess(env, pipeline_home / "worker.log"))
    workers[0].wait_ready()
    dump = write_dump(tmp_path / "dump.jsonl", 200, seed=12)
    submitted = cli(env, "scan", str(dump), "--json")
    wait_for(settings, submitted["job_id"], lambda s: s["chunks_done"] >= 3)
    promoted_at = utcnow()
    write_signed_state(pipeline_home, {"active": "candidate", "history": [
        {"kind": "promote", "name": "candidate", "previous": "default", "at": promoted_at.isoformat()}]})
    new = bundle_version(settings)
    assert new != old
    summary = wait_for(settings, submitted["job_id"], lambda s: s["status"] == "done")
    assert_each_line_once(settings, submitted["job_id"], 200)
    with session_scope(settings.resolved_database_url) as session:
        rows = session.execute(select(JobItem.seq, VerdictRow.bundle_version, VerdictRow.versions,
                                      VerdictRow.created_at)
                               .join(VerdictRow, VerdictRow.document_id == JobItem.document_id)
                               .where(JobItem.job_id == submitted["job_id"])).all()
    chunks: dict[int, set[str]] = {}
    for seq, version, versions, _created in rows:
        assert versions["detection"] == version  # the verdict names the bundle that judged it
        chunks.setdefault(seq // 4, set()).add(version)  # chunk size 4, documents staged in input order
    assert all(len(versions) == 1 for versions in chunks.values())  # no chunk judged by two bundles
    finished = sorted((max(r.created_at for r in rows if r.seq // 4 == chunk), versions.pop())
                      for chunk, versions in chunks.items())
    assert all(version == old for at, version in finished if at < promoted_at)
    after = [version for at, version in finished if at >= promoted_at]
    assert set(after) <= {old, new} and after.count(old) <= 1  # only the chunk in flight kept the old bundle
    assert after and after[-1] == new and after == sorted(after, key=lambda version: version == new)
    counts = job_summary(settings, submitted["job_id"], details=True)["verdicts"]
    assert sum(counts[key] for key in ("machine", "human", "uncertain", "abstain")) == summary["documents"]


def store_fed_drill(pipeline_home: Path, model: Path, tmp_path: Path, workers: list[WorkerProcess],
                    redis_url: str, postgres_url: str, **timers: str) -> tuple[dict, Settings, dict[str, str]]:
    """PostgreSQL + Redis, the prepared home's artifacts published to the store, three store-fed workers each
    on an empty home of its own: (the scan's environment, its settings, the published digests)."""
    env = pipeline_env(pipeline_home, model, redis_url, postgres_url)
    env["PROVENANCE_SECRET_KEY"] = SECRET
    env.update(timers)
    digests = publish_artifacts(env)
    assert {"keys", "detector-bundle"} <= set(digests)
    started, _homes = start_store_workers(env, tmp_path)
    workers.extend(started)
    return env, Settings(home=pipeline_home, database_url=postgres_url), digests


def assert_judged_by_the_published_bundle(settings: Settings, tmp_path: Path, digests: dict[str, str]) -> None:
    from provenance.artifacts import installed
    from provenance.bundles import bundle_version

    version = bundle_version(settings)
    with session_scope(settings.resolved_database_url) as session:
        assert set(session.scalars(select(VerdictRow.bundle_version))) == {version}
    for home in sorted(tmp_path.glob("host-*")):
        assert installed(home) == digests  # each host fetched each artifact once, by digest
        assert bundle_version(Settings(home=home)) == version


@pytest.mark.slow
def test_three_workers_from_empty_homes_finish_a_scan_through_a_sigkill(
        pipeline_home: Path, micro_model_dir: Path, tmp_path: Path, workers: list[WorkerProcess], redis_server,
        postgres_url: str) -> None:
    """The many-hosts drill: PostgreSQL + Redis, three workers each with an empty data home of its own, given
    only the database, the broker, the model and the key-encryption key; the artifacts come from the store. One
    worker is SIGKILLed mid-scan. 0 lost, 0 doubled, every verdict judged by the published bundle."""
    env, settings, digests = store_fed_drill(pipeline_home, micro_model_dir, tmp_path, workers, redis_server.url,
                                             postgres_url)
    dump = write_dump(tmp_path / "dump.jsonl", 600, seed=13)
    submitted = cli(env, "scan", str(dump), "--json")
    wait_for(settings, submitted["job_id"], lambda s: s["chunks_done"] >= 20)
    workers[1].kill()
    wait_for(settings, submitted["job_id"], lambda s: s["status"] == "done")
    assert_each_line_once(settings, submitted["job_id"], 600)
    assert_judged_by_the_published_bundle(settings, tmp_path, digests)


# A restart drill's timers: a stall would be re-sent after 30 s (the goal's bound) and logged; a live task
# never loses its chunk to the lease (120 s), so a chunk that waited for a lease would show as a takeover.
RESTART_TIMERS = {"PROVENANCE_STALL_SECONDS": "30", "PROVENANCE_CHUNK_LEASE_SECONDS": "120",
                  "PROVENANCE_TASK_TIME_LIMIT": "60"}


def restart_mid_scan(restart, env: dict[str, str], settings: Settings, tmp_path: Path,  # noqa: ANN001
                     workers: list[WorkerProcess], lines: int, seed: int) -> float:
    """Scan ``lines`` documents, call ``restart`` once the job is fully submitted and a few chunks are done,
    and check the outcome: every line once, no chunk or job that waited out a timer, every worker alive.
    Returns the stall after the restart (seconds; printed, never asserted: timing depends on the machine)."""
    from provenance.store import utcnow

    dump = write_dump(tmp_path / "dump.jsonl", lines, seed=seed)
    submitted = cli(env, "scan", str(dump), "--json")
    wait_for(settings, submitted["job_id"], lambda s: s["submission_done"] and s["chunks_done"] >= 6)
    restarted_at = utcnow()
    restart()
    summary = wait_for(settings, submitted["job_id"], lambda s: s["status"] == "done")
    assert summary["chunks_done"] > 6  # the restart landed mid-scan
    assert_each_line_once(settings, submitted["job_id"], lines)
    assert waited_lines(workers) == []
    assert all(worker.process.poll() is None for worker in workers)  # each reconnected rather than dying
    stall = stall_after(settings, submitted["job_id"], restarted_at)
    print(f"stall after the restart: {stall} s")  # noqa: T201 - the drill's figure, for `pytest -s`
    return stall


@pytest.mark.slow
def test_three_empty_home_workers_finish_a_scan_through_a_postgresql_restart(
        pipeline_home: Path, micro_model_dir: Path, tmp_path: Path, workers: list[WorkerProcess], redis_server,
        postgres_server, postgres_url: str) -> None:
    """`pg_ctl restart -m fast` mid-scan under three store-fed workers: tasks cut by AdminShutdown retry and
    re-own their chunks at once, so no chunk waits out its lease and the job never stalls."""
    env, settings, digests = store_fed_drill(pipeline_home, micro_model_dir, tmp_path, workers, redis_server.url,
                                             postgres_url, **RESTART_TIMERS)
    restart_mid_scan(postgres_server.restart, env, settings, tmp_path, workers, 240, seed=14)
    assert_judged_by_the_published_bundle(settings, tmp_path, digests)


@pytest.mark.slow
def test_three_empty_home_workers_finish_a_scan_through_a_redis_restart(
        pipeline_home: Path, micro_model_dir: Path, tmp_path: Path, workers: list[WorkerProcess], redis_server,
        postgres_url: str) -> None:
    """Redis SIGTERMed and started empty mid-scan (every queued message lost) under three store-fed workers: one
    worker notices the new broker and re-sends the queued chunks at once, not after a stall."""
    env, settings, digests = store_fed_drill(pipeline_home, micro_model_dir, tmp_path, workers, redis_server.url,
                                             postgres_url, **RESTART_TIMERS)
    restart_mid_scan(redis_server.restart, env, settings, tmp_path, workers, 240, seed=15)
    assert_judged_by_the_published_bundle(settings, tmp_path, digests)
    logs = "".join(worker.log.read_text(errors="replace") for worker in workers)
    assert logs.count("broker restarted") == 1  # one worker won the right to re-send


def test_compose_runs_the_drills_worker_command_and_every_command_parses() -> None:
    """Deployment on paper, kept honest: compose.yaml's worker is exactly the drill's worker (the image's
    entrypoint is `provenance`), every role's command is accepted by the CLI, and each role is given the
    database, the broker, the model and the key-encryption key, nothing copied into its home."""
    import yaml

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert 'ENTRYPOINT ["provenance"]' in (ROOT / "Dockerfile").read_text()
    assert services["worker"]["command"] == ["worker", "--concurrency", "1", *STORE_WORKER]
    for role in ("api", "worker", "dashboard"):
        environment = services[role]["environment"]
        assert {"PROVENANCE_DATABASE_URL", "PROVENANCE_BROKER_URL", "PROVENANCE_MODEL",
                "PROVENANCE_SECRET_KEY_FILE"} <= set(environment)
        assert environment["PROVENANCE_ARTIFACTS_FROM_STORE"] == "1"
        assert not any(volume.endswith(":/data") for volume in services[role].get("volumes", []))
        parsed = subprocess.run([sys.executable, "-m", "provenance.cli", *services[role]["command"], "--help"],
                                capture_output=True, text=True, timeout=120)
        assert parsed.returncode == 0, parsed.stderr
