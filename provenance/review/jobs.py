"""Scan jobs as the reviewer's Jobs page lists them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from provenance.store.models import (
    ScanJob,
    utcnow,
)


def jobs(session: Session, limit: int = 100, *, tenant: str | None = None) -> list[dict[str, Any]]:
    """Scan jobs newest first, with a 0..1 progress figure (chunks done of chunks total); ``tenant``'s only,
    unless None."""
    out = []
    query = select(ScanJob).order_by(ScanJob.created_at.desc()).limit(limit)
    if tenant is not None:
        query = query.where(ScanJob.tenant == tenant)
    for job in session.scalars(query):
        progress = (job.chunks_done / job.chunks_total) if job.chunks_total else (1.0 if job.status == "done" else 0.0)
        end = job.finished_at or utcnow()
        out.append({"job": job.id, "status": job.status, "progress": min(1.0, progress), "records": job.total,
                    "documents": job.documents, "duplicates": job.duplicates, "quarantined": job.quarantined,
                    "reused": job.reused, "chunks": f"{job.chunks_done}/{job.chunks_total}",
                    "new_verdicts": job.new_verdicts, "created": job.created_at,
                    "seconds": round((end - job.started_at).total_seconds(), 1) if job.started_at else None,
                    "error": job.error})
    return out
