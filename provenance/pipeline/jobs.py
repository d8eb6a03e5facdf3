"""Job accounting: the contract summary (``job_id, status, total, scored, quarantined, duplicates``) and more."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from provenance.errors import ProvenanceError
from provenance.settings import Settings
from provenance.store import Chunk, JobCallback, JobItem, ScanJob, VerdictRow, session_scope


def _scored(session: Session, job: ScanJob) -> int:
    done = session.scalar(select(func.coalesce(func.sum(Chunk.size), 0))
                          .where(Chunk.job_id == job.id, Chunk.status == "done")) or 0
    return int(done) + job.reused


def job_verdict(job_id: str, version: str) -> ColumnElement[bool]:
    """Join condition (on ``JobItem.document_id``) for *the* verdict of each of a job's documents: the one under
    the job's bundle version (scored or reused), else, when a promotion mid-scan moved later chunks to a new
    bundle, the one this job's workers wrote under that bundle."""
    under_version = aliased(VerdictRow)
    return and_(VerdictRow.document_id == JobItem.document_id,
                or_(VerdictRow.bundle_version == version,
                    and_(VerdictRow.job_id == job_id,
                         ~exists().where(under_version.document_id == VerdictRow.document_id,
                                         under_version.bundle_version == version))))


def verdict_counts(session: Session, job: ScanJob) -> dict[str, int]:
    """machine / human / uncertain / abstain, watermarked, with PII, misuse over the job's distinct documents."""
    def flagged(condition):
        return func.sum(case((condition, 1), else_=0))

    rows = session.execute(
        select(VerdictRow.verdict, func.count(), flagged(VerdictRow.watermarked.is_(True)),
               flagged(VerdictRow.pii_count > 0),
               flagged(VerdictRow.misuse.is_(True)))
        .join(JobItem, job_verdict(job.id, job.bundle_version) & (JobItem.outcome == "document"))
        .where(JobItem.job_id == job.id)
        .group_by(VerdictRow.verdict)).all()
    counts = dict.fromkeys(("machine", "human", "uncertain", "abstain", "watermarked", "with_pii", "misuse"), 0)
    for verdict, count, watermarked, with_pii, misuse in rows:
        counts[verdict] = counts.get(verdict, 0) + count
        counts["watermarked"] += int(watermarked or 0)
        counts["with_pii"] += int(with_pii or 0)
        counts["misuse"] += int(misuse or 0)
    return counts


def summarise(session: Session, job: ScanJob, *, details: bool = False) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "job_id": job.id, "status": job.status, "total": job.total, "scored": _scored(session, job),
        "quarantined": job.quarantined, "duplicates": job.duplicates,
    }
    summary.update(
        tenant=job.tenant,
        documents=job.documents, already_scored=job.reused, new_verdicts=job.new_verdicts,
        chunks_total=job.chunks_total, chunks_done=job.chunks_done, submission_done=job.submission_done,
        bundle_version=job.bundle_version,
        created_at=job.created_at.isoformat() if job.created_at else None,
        finished_at=job.finished_at.isoformat() if job.finished_at else None,
    )
    if job.finished_at and job.started_at:
        summary["seconds"] = round((job.finished_at - job.started_at).total_seconds(), 3)
    if job.error:
        summary["error"] = job.error
    callback = callback_state(session, job.id)
    if callback is not None:
        summary["callback"] = callback
    if details:
        summary["verdicts"] = verdict_counts(session, job)
        summary["inputs"] = job.inputs
    return summary


def job_summary(settings: Settings, job_id: str, *, details: bool = False, tenant: str | None = None) -> dict[str, Any]:
    """The job's summary; with ``tenant`` a job of another tenant is reported exactly like a missing one."""
    with session_scope(settings.resolved_database_url) as session:
        job = session.get(ScanJob, job_id)
        if job is None or (tenant is not None and job.tenant != tenant):
            raise ProvenanceError(f"no scan job {job_id!r}", hint="list jobs with provenance jobs list")
        return summarise(session, job, details=details)


def list_jobs(settings: Settings, limit: int = 50) -> list[dict[str, Any]]:
    with session_scope(settings.resolved_database_url) as session:
        jobs = session.scalars(select(ScanJob).order_by(ScanJob.created_at.desc()).limit(limit)).all()
        return [summarise(session, job) for job in jobs]


def quarantine_records(settings: Settings, job_id: str) -> list[dict[str, Any]]:
    with session_scope(settings.resolved_database_url) as session:
        rows = session.scalars(select(JobItem).where(JobItem.job_id == job_id, JobItem.outcome == "quarantined")
                               .order_by(JobItem.seq)).all()
        return [{"seq": r.seq, "source_id": r.source_id, "reason": r.reason, "location": r.location,
                 "excerpt": r.excerpt} for r in rows]


def callback_state(session: Session, job_id: str) -> dict[str, Any] | None:
    """The job's callback as a job summary shows it (never the secret)."""
    row = session.get(JobCallback, job_id)
    if row is None:
        return None
    return {"status": row.status, "attempts": row.attempts,
            "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
            "last_error": row.last_error}
