"""Stall recovery: re-send the chunks of a job that stopped making progress.

A broker can lose a message: the embedded SQL transport never redelivers what a killed worker had fetched,
and a Redis restarted without persistence forgets its queue. The database still knows every unfinished chunk,
so when a job has made no progress for ``stall_seconds`` its queued chunks and its running chunks whose lease
expired are sent again. Re-sending is safe because claiming and writing are idempotent; a conditional UPDATE
on ``last_progress_at`` makes only one process (waiter or worker) re-send per stall.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update

from provenance.settings import Settings
from provenance.store import Chunk, ScanJob, session_scope, utcnow

log = logging.getLogger(__name__)


def stalled_chunks(settings: Settings, job_id: str, *, force: bool = False) -> list[int]:
    """Chunk ids to re-send if the job is stalled (or ``force``), after claiming the right to re-send them."""
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.stall_seconds)
    with session_scope(settings.resolved_database_url) as session:
        condition = [ScanJob.id == job_id, ScanJob.status.in_(("queued", "running"))]
        if not force:
            condition.append(ScanJob.last_progress_at < cutoff)
        claimed = session.execute(update(ScanJob).where(*condition).values(last_progress_at=now))
        if claimed.rowcount != 1:
            return []
        return list(session.scalars(
            select(Chunk.id).where(Chunk.job_id == job_id)
            .where((Chunk.status == "queued") | ((Chunk.status == "running") & (Chunk.lease_until < now)))
            .order_by(Chunk.id)))


def recover_job(settings: Settings, job_id: str, send: Callable[[int], None], *, force: bool = False) -> int:
    chunk_ids = stalled_chunks(settings, job_id, force=force)
    for chunk_id in chunk_ids:
        send(chunk_id)
    if chunk_ids:
        log.warning("job %s: re-sent %d chunk(s) after a stall", job_id, len(chunk_ids))
    return len(chunk_ids)


def active_job_ids(settings: Settings) -> list[str]:
    with session_scope(settings.resolved_database_url) as session:
        return list(session.scalars(select(ScanJob.id).where(ScanJob.status.in_(("queued", "running")))))


def recover_all(settings: Settings, send: Callable[[int], None]) -> int:
    return sum(recover_job(settings, job_id, send) for job_id in active_job_ids(settings))
