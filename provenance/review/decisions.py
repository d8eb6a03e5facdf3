"""Recording a reviewer's decision, its audit row and the lease release in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from provenance.review.common import (
    DECISIONS,
    STATUS_DECIDED,
    STATUS_ESCALATED,
    ReviewError,
    clean_reviewer,
    visible,
)
from provenance.store.audit import audit
from provenance.store.models import (
    ReviewDecision,
    ReviewLease,
    VerdictRow,
    utcnow,
)


def decide(session: Session, verdict_id: int, reviewer: str, decision: str, note: str | None = None,
           *, now: datetime | None = None, tenant: str | None = None) -> ReviewDecision:
    """Record a decision, its audit row and the lease release in the caller's transaction.

    Refused (ReviewError) when another reviewer holds an unexpired lease or the item was already decided, so
    two reviewers can never both decide one item; an escalated item may be decided again (second level)."""
    reviewer = clean_reviewer(reviewer)
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}", hint="use: " + ", ".join(DECISIONS))
    if tenant is not None and not visible(session, verdict_id, tenant):
        raise ReviewError(f"item {verdict_id} does not exist")
    now = now or utcnow()
    note = (note or "").strip() or None
    new_status = STATUS_ESCALATED if decision == "escalate" else STATUS_DECIDED
    allowed = [None] if decision == "escalate" else [None, STATUS_ESCALATED]
    condition = or_(*(VerdictRow.review_status.is_(None) if s is None else VerdictRow.review_status == s
                      for s in allowed))
    taken = select(ReviewLease.verdict_id).where(ReviewLease.verdict_id == verdict_id, ReviewLease.expires_at > now,
                                                 ReviewLease.reviewer != reviewer).exists()
    # One conditional UPDATE, the transaction's first statement (see ``_upsert_lease``), guards against deciding
    # twice and against deciding an item another reviewer holds; nothing is written when it matches no row.
    changed = session.execute(update(VerdictRow).where(VerdictRow.id == verdict_id, condition, ~taken)
                              .values(review_status=new_status)).rowcount
    row = session.execute(select(VerdictRow.verdict, VerdictRow.p_machine, VerdictRow.review_status)
                          .where(VerdictRow.id == verdict_id)).first()
    if row is None:
        raise ReviewError(f"item {verdict_id} does not exist")
    if changed != 1:
        holder = session.scalar(select(ReviewLease.reviewer).where(ReviewLease.verdict_id == verdict_id,
                                                                   ReviewLease.expires_at > now))
        if holder is not None and holder != reviewer and row.review_status in allowed:
            raise ReviewError(f"item {verdict_id} is taken by {holder}", hint="open the next item instead")
        raise ReviewError(f"item {verdict_id} has already been {row.review_status}", hint="open the next item")
    escalated_before = decision != "escalate" and bool(session.scalar(
        select(func.count()).select_from(ReviewDecision)
        .where(ReviewDecision.verdict_id == verdict_id, ReviewDecision.decision == "escalate")))
    previous = STATUS_ESCALATED if escalated_before else None
    record = ReviewDecision(verdict_id=verdict_id, reviewer=reviewer, decision=decision, note=note, created_at=now)
    session.add(record)
    session.flush()
    audit(session, actor=reviewer, action="review.decide", subject_type="verdict", subject_id=verdict_id,
          details={"decision": decision, "decision_id": record.id, "model_verdict": row.verdict,
                   "p_machine": row.p_machine, "previous_status": previous,
                   "note_chars": len(note or "")})
    session.execute(delete(ReviewLease).where(ReviewLease.verdict_id == verdict_id))
    return record
