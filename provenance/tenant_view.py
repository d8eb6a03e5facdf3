"""What one tenant may see of a shared document's verdict.

Documents are stored once by content, and the pipeline scores each once, matching it against the *whole*
ledger. Two things in that shared row belong to whoever happened to be first or to another tenant: the
document's ``source_id`` (the first submitter's record id) and the ledger answer (which manifest matched, and
the ``needs_review``/``review_priority`` computed from it: "watermarked but no ledger match" raises the
priority, so a stored False would tell a reader that *someone's* ledger holds the text). This module rebuilds
both for the reader: the record id from the reader's own job items (``job_items.source_id``, one per
submitted record), and the review flags from the stored signal columns with the reader's own ledger match.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.pipeline.document_scoring import review_priority
from provenance.store.models import JobItem, Manifest, ScanJob, VerdictRow


def own_source_id(session: Session, tenant: str, document_id: int, prefer_job: str | None = None) -> str | None:
    """The record id this tenant gave the document: from ``prefer_job`` when that job is the tenant's, else
    from the tenant's latest job that contained it; None when the tenant never submitted an id for it."""
    query = (select(JobItem.source_id).join(ScanJob, ScanJob.id == JobItem.job_id)
             .where(JobItem.document_id == document_id, ScanJob.tenant == tenant,
                    JobItem.outcome.in_(("document", "duplicate"))))
    if prefer_job is not None:
        preferred = session.scalar(query.where(JobItem.job_id == prefer_job).order_by(JobItem.seq).limit(1))
        if preferred is not None:
            return preferred
    return session.scalar(query.where(JobItem.source_id.is_not(None))
                          .order_by(ScanJob.created_at.desc(), JobItem.id.desc()).limit(1))


def own_manifest_id(session: Session, tenant: str, verdict: VerdictRow) -> str | None:
    """The stored ledger match when it is in this tenant's ledger, else None."""
    manifest_id = verdict.ledger_manifest_id
    if manifest_id is None:
        return None
    owner = session.scalar(select(Manifest.tenant).where(Manifest.id == manifest_id))
    return manifest_id if owner == tenant else None


def own_review(verdict: VerdictRow, ledger_match: bool) -> tuple[bool, float]:
    """(needs_review, review_priority) as this reader's ledger would have made them."""
    return review_priority(misuse=bool(verdict.misuse), watermarked=bool(verdict.watermarked),
                           verdict=verdict.verdict, p_machine=verdict.p_machine, margin=verdict.margin,
                           pii_count=int(verdict.pii_count or 0), ledger_match=ledger_match)
