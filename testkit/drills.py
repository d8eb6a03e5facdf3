"""The many-hosts failure drills' shared pieces, for the slow tests and ``bench/pipeline_drills.py`` alike.

A drill publishes the prepared home's artifacts to the store, starts workers that each have an empty data home
of their own (``provenance worker --from-store``: database, broker, model and key-encryption key only), breaks
something mid-scan, and then reads from the database what happened: every input line once, and how long the
job stood still after the break (``stall_after``: the longest wait between chunk completions from the moment
of the break to the end, so a chunk that waited out its lease or a stall timer shows up in seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from provenance.settings import Settings
from provenance.store import Chunk, JobItem, StagedText, VerdictRow, session_scope
from testkit.workers import WorkerProcess

STORE_WORKER = ("--from-store",)  # the many-hosts drill's worker: `provenance worker --concurrency 1 --from-store`
SECRET = "an-invented-key-encryption-key-for-the-drill"
# What a drill's worker logs must never say: a chunk waited out its lease, or the job waited out a stall.
WAITED = ("after its lease expired", "after a stall")


def publish_artifacts(env: dict[str, str], timeout: float = 300) -> dict[str, str]:
    """`provenance artifacts publish --json` from the prepared home in ``env``: {kind: digest}."""
    done = subprocess.run([sys.executable, "-m", "provenance.cli", "artifacts", "publish", "--json"], env=env,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"artifacts publish failed:\n{done.stderr[-3000:]}")
    return {record["kind"]: record["digest"] for record in map(json.loads, done.stdout.splitlines())}


def start_store_workers(env: dict[str, str], base: Path, count: int = 3) -> tuple[list[WorkerProcess], list[Path]]:
    """``count`` store-fed workers, each on its own empty home under ``base`` (``host-<n>``), ready."""
    homes = [base / f"host-{index}" for index in range(count)]
    workers = [WorkerProcess({**env, "PROVENANCE_HOME": str(home)}, base / "logs" / f"worker-{index}.log",
                             extra=STORE_WORKER) for index, home in enumerate(homes)]
    try:
        for worker in workers:
            worker.wait_ready()
    except BaseException:  # the caller never sees them: stop them here rather than leave orphans
        for worker in workers:
            worker.kill()
        raise
    return workers, homes


def stall_after(settings: Settings, job_id: str, since: datetime) -> float:
    """Seconds of the longest wait between consecutive chunk completions of the job from ``since`` (naive UTC,
    as ``provenance.store.utcnow``) to its last chunk; the first wait is from ``since`` itself."""
    with session_scope(settings.resolved_database_url) as session:
        finished = sorted(session.scalars(select(Chunk.finished_at).where(
            Chunk.job_id == job_id, Chunk.finished_at.is_not(None), Chunk.finished_at >= since)))
    moments = [since, *finished]
    return round(max((b - a).total_seconds() for a, b in zip(moments, moments[1:], strict=False)), 2) \
        if finished else float("nan")


def longest_gap_before(settings: Settings, job_id: str, until: datetime) -> float:
    """The same measure before the failure (between the job's first chunk completion and ``until``): the
    baseline a stall after the failure is read against, since one chunk's scoring time is a gap by itself."""
    with session_scope(settings.resolved_database_url) as session:
        finished = sorted(session.scalars(select(Chunk.finished_at).where(
            Chunk.job_id == job_id, Chunk.finished_at.is_not(None), Chunk.finished_at < until)))
    moments = [*finished, until]
    return round(max((b - a).total_seconds() for a, b in zip(moments, moments[1:], strict=False)), 2) \
        if finished else float("nan")


def lost_and_doubled(settings: Settings, job_id: str) -> dict[str, int]:
    """Input documents without a verdict (lost) and with more than one (doubled), lines never itemised, and
    texts still staged: the drill's outcome in numbers (the tests assert the same through their own checks)."""
    with session_scope(settings.resolved_database_url) as session:
        documents = list(session.scalars(select(JobItem.document_id).where(
            JobItem.job_id == job_id, JobItem.outcome == "document")))
        counts = dict(session.execute(select(VerdictRow.document_id, func.count()).where(
            VerdictRow.document_id.in_(documents)).group_by(VerdictRow.document_id)).all())
        items = session.scalar(select(func.count()).select_from(JobItem).where(JobItem.job_id == job_id))
        staged = session.scalar(select(func.count()).select_from(StagedText))
    return {"documents": len(documents), "lost": sum(1 for doc in documents if doc not in counts),
            "doubled": sum(1 for count in counts.values() if count > 1), "items": int(items or 0),
            "staged_left": int(staged or 0)}


def waited_lines(workers: list[WorkerProcess]) -> list[str]:
    """Log lines, across the workers, that say a chunk or the job waited out a timer."""
    return [line for worker in workers for line in worker.log.read_text(errors="replace").splitlines()
            if any(marker in line for marker in WAITED)]
