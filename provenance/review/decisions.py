"""Recording a reviewer's decision, its audit row and the lease release in one transaction; undoing it or
changing it later without losing the old row.

The verdict's ``review_status`` says where an item stands: None (open), "escalated" (waiting for another
reviewer), "overlap" (decided once, drawn for a second independent decision) or "decided". A second opinion
and the settling of an escalation must come from a reviewer who has no active decision on the item: that is
enforced here (and in the lease claim), not only in the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from provenance.review.common import (
    DECISIONS,
    STATUS_DECIDED,
    STATUS_ESCALATED,
    STATUS_OVERLAP,
    ReviewError,
    active_decision,
    clean_reviewer,
    decided_by,
    overlap_selected,
    tenant_scope,
    visible,
)
from provenance.store.audit import audit
from provenance.store.models import (
    Document,
    ReviewDecision,
    Reviewer,
    ReviewLease,
    VerdictRow,
    utcnow,
)

DEFAULT_UNDO_SECONDS = 20.0


def overlap_share_for(session: Session, share: float, tenant: str | None) -> float:
    """The overlap share that can work here: a second opinion needs a second reviewer, so with fewer than two
    active accounts (in ``tenant``, or anywhere for a platform-admin) no item is held for one — it would wait
    forever, as in a one-reviewer demo."""
    if share <= 0.0:
        return 0.0
    active = select(func.count()).select_from(Reviewer).where(Reviewer.disabled_at.is_(None))
    if tenant is not None:
        active = active.where(Reviewer.tenant == tenant)
    return share if int(session.scalar(active) or 0) >= 2 else 0.0


def _status_after(previous: str | None, decision: str, verdict_id: int, overlap_share: float) -> str:
    """The item's review status once ``decision`` is recorded on an item whose status was ``previous``."""
    if decision == "escalate":
        return STATUS_ESCALATED
    if previous is None and overlap_selected(verdict_id, overlap_share):
        return STATUS_OVERLAP
    return STATUS_DECIDED


def _status_condition(allowed: list[str | None]):
    return or_(*(VerdictRow.review_status.is_(None) if s is None else VerdictRow.review_status == s
                 for s in allowed))


def _lock_verdict(session: Session, verdict_id: int) -> None:
    """A write that changes nothing, as the transaction's first statement: it takes SQLite's write lock (and
    PostgreSQL's row lock) before the status is read, so the read and the conditional UPDATE after it cannot
    interleave with another reviewer's decision (a deferred SQLite transaction that reads first can fail at once
    with "database is locked" when another writer got in)."""
    session.execute(update(VerdictRow).where(VerdictRow.id == verdict_id)
                    .values(review_status=VerdictRow.review_status))


def decide(session: Session, verdict_id: int, reviewer: str, decision: str, note: str | None = None,
           *, now: datetime | None = None, tenant: str | None = None, overlap_share: float = 0.0) -> ReviewDecision:
    """Record a decision, its audit row and the lease release in the caller's transaction.

    Refused (ReviewError) when another reviewer holds an unexpired lease or the item was already decided, so
    two reviewers can never both decide one item; an escalated item may be decided again (second level), but
    never by a reviewer with an active decision on it (the one who escalated it). With ``overlap_share`` > 0,
    that share of first decisions (``overlap_selected``) leaves the item in the open queue as "overlap" for a
    second reviewer's independent decision."""
    reviewer = clean_reviewer(reviewer)
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}", hint="use: " + ", ".join(DECISIONS))
    if not 0.0 <= overlap_share <= 1.0:
        raise ReviewError(f"overlap share {overlap_share} is not within 0..1")
    if tenant is not None and not visible(session, verdict_id, tenant):
        raise ReviewError(f"item {verdict_id} does not exist")
    now = now or utcnow()
    note = (note or "").strip() or None
    allowed: list[str | None] = [None, STATUS_OVERLAP] if decision == "escalate" else \
        [None, STATUS_ESCALATED, STATUS_OVERLAP]
    taken = select(ReviewLease.verdict_id).where(ReviewLease.verdict_id == verdict_id, ReviewLease.expires_at > now,
                                                 ReviewLease.reviewer != reviewer).exists()
    _lock_verdict(session, verdict_id)
    previous = session.scalar(select(VerdictRow.review_status).where(VerdictRow.id == verdict_id))
    new_status = _status_after(previous, decision, verdict_id, overlap_share)
    # One conditional UPDATE guards against deciding twice, against deciding an item another reviewer holds and
    # against a second decision by the same reviewer; nothing is written when it matches no row.
    changed = session.execute(update(VerdictRow).where(
        VerdictRow.id == verdict_id, _status_condition(allowed), ~taken, ~decided_by(reviewer),
        _status_condition([previous])).values(review_status=new_status)).rowcount
    row = session.execute(select(VerdictRow.verdict, VerdictRow.p_machine, VerdictRow.review_status)
                          .where(VerdictRow.id == verdict_id)).first()
    if row is None:
        raise ReviewError(f"item {verdict_id} does not exist")
    if changed != 1:
        _explain_refusal(session, verdict_id, reviewer, row.review_status, allowed, now)
    record = ReviewDecision(verdict_id=verdict_id, reviewer=reviewer, decision=decision, note=note, created_at=now,
                            previous_status=previous)
    session.add(record)
    session.flush()
    audit(session, actor=reviewer, action="review.decide", subject_type="verdict", subject_id=verdict_id,
          details={"decision": decision, "decision_id": record.id, "model_verdict": row.verdict,
                   "p_machine": row.p_machine, "previous_status": previous, "status": new_status,
                   "note_chars": len(note or "")})
    session.execute(delete(ReviewLease).where(ReviewLease.verdict_id == verdict_id))
    return record


def _explain_refusal(session: Session, verdict_id: int, reviewer: str, status: str | None,
                     allowed: list[str | None], now: datetime) -> None:
    mine = session.scalar(select(ReviewDecision.decision).where(
        ReviewDecision.verdict_id == verdict_id, ReviewDecision.reviewer == reviewer, active_decision())
        .order_by(ReviewDecision.id.desc()).limit(1))
    if mine == "escalate" and status == STATUS_ESCALATED:
        raise ReviewError(f"you escalated item {verdict_id}: another reviewer settles it",
                          hint="open the next item; undo the escalation if it was a slip")
    if mine is not None and status in (STATUS_OVERLAP, STATUS_ESCALATED):
        raise ReviewError(f"you already decided item {verdict_id}: the second decision must come from another "
                          "reviewer", hint="open the next item")
    holder = session.scalar(select(ReviewLease.reviewer).where(ReviewLease.verdict_id == verdict_id,
                                                               ReviewLease.expires_at > now))
    if holder is not None and holder != reviewer and status in allowed:
        raise ReviewError(f"item {verdict_id} is taken by {holder}", hint="open the next item instead")
    raise ReviewError(f"item {verdict_id} has already been {status}", hint="open the next item")


def _later_active():
    """An active decision on the same verdict recorded after the decision row being updated."""
    later = aliased(ReviewDecision)
    return select(later.id).where(later.verdict_id == ReviewDecision.verdict_id, later.id > ReviewDecision.id,
                                  later.superseded_at.is_(None)).exists()


def _own_latest(session: Session, decision_id: int, reviewer: str, tenant: str | None) -> ReviewDecision:
    """The decision ``decision_id`` when it is ``reviewer``'s, still active and the item's latest; else why not."""
    record = session.get(ReviewDecision, decision_id)
    if record is None or (tenant is not None and not visible(session, record.verdict_id, tenant)):
        raise ReviewError(f"decision {decision_id} does not exist")
    if record.reviewer != reviewer:
        raise ReviewError(f"decision {decision_id} is {record.reviewer}'s", hint="only your own decisions")
    if record.superseded_at is not None:
        raise ReviewError(f"decision {decision_id} was already undone or changed")
    raise ReviewError(f"item {record.verdict_id} was decided again after decision {decision_id}",
                      hint="only the item's latest decision can be undone or changed")


def undo(session: Session, decision_id: int, reviewer: str, *, window_seconds: float = DEFAULT_UNDO_SECONDS,
         now: datetime | None = None, tenant: str | None = None) -> ReviewDecision:
    """Undo ``reviewer``'s decision made less than ``window_seconds`` ago: the item returns to the status it
    had before (open, escalated or overlap), the decision row is kept but marked superseded, and the undo is
    audited as ``review.undo``. Only the item's latest decision can be undone."""
    reviewer = clean_reviewer(reviewer)
    now = now or utcnow()
    # The write first (it takes SQLite's write lock): supersede the row only while it is ours, active, the
    # item's latest and recent enough.
    changed = session.execute(update(ReviewDecision).where(
        ReviewDecision.id == decision_id, ReviewDecision.reviewer == reviewer, active_decision(),
        ReviewDecision.created_at >= now - timedelta(seconds=window_seconds), ~_later_active())
        .values(superseded_at=now).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        record = session.get(ReviewDecision, decision_id)
        if record is not None and record.reviewer == reviewer and record.superseded_at is None and \
                record.created_at < now - timedelta(seconds=window_seconds):
            raise ReviewError(f"decision {decision_id} is older than {window_seconds:g} s: too late to undo",
                              hint="change it under My recent decisions instead")
        _own_latest(session, decision_id, reviewer, tenant)
    record = session.get(ReviewDecision, decision_id, populate_existing=True)
    assert record is not None
    if tenant is not None and not visible(session, record.verdict_id, tenant):
        raise ReviewError(f"decision {decision_id} does not exist")
    session.execute(update(VerdictRow).where(VerdictRow.id == record.verdict_id)
                    .values(review_status=record.previous_status))
    audit(session, actor=reviewer, action="review.undo", subject_type="verdict", subject_id=record.verdict_id,
          details={"decision_id": record.id, "decision": record.decision,
                   "restored_status": record.previous_status})
    return record


def change(session: Session, decision_id: int, reviewer: str, decision: str, note: str | None = None, *,
           now: datetime | None = None, tenant: str | None = None) -> ReviewDecision:
    """Replace ``reviewer``'s own decision by ``decision``: a new row (with ``note``, or the old note), the old
    one kept and marked superseded by it, audited as ``review.change``. Only the item's latest decision.

    An escalation cannot be changed into a decision (the item would be settled by the reviewer who escalated
    it: undo it within the undo window, or let another reviewer settle it), and a second-level decision (the
    settling of an escalation, a second opinion) cannot be changed into an escalation."""
    reviewer = clean_reviewer(reviewer)
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}", hint="use: " + ", ".join(DECISIONS))
    now = now or utcnow()
    old = session.get(ReviewDecision, decision_id)
    if old is not None and old.reviewer == reviewer and old.superseded_at is None:
        if old.decision == decision:
            raise ReviewError(f"decision {decision_id} already is {decision!r}")
        if old.decision == "escalate":
            raise ReviewError(f"you escalated item {old.verdict_id}: another reviewer settles it",
                              hint="an escalation can be undone right after it, not changed into a decision")
        if decision == "escalate" and old.previous_status is not None:
            raise ReviewError(f"decision {decision_id} settled a second-level item: it cannot become an escalation")
    changed = session.execute(update(ReviewDecision).where(
        ReviewDecision.id == decision_id, ReviewDecision.reviewer == reviewer, active_decision(), ~_later_active())
        .values(superseded_at=now).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        _own_latest(session, decision_id, reviewer, tenant)
    old = session.get(ReviewDecision, decision_id, populate_existing=True)
    assert old is not None
    if tenant is not None and not visible(session, old.verdict_id, tenant):
        raise ReviewError(f"decision {decision_id} does not exist")
    note = (note or "").strip() or old.note
    record = ReviewDecision(verdict_id=old.verdict_id, reviewer=reviewer, decision=decision, note=note,
                            created_at=now, previous_status=old.previous_status)
    session.add(record)
    session.flush()
    old.superseded_by = record.id
    if decision == "escalate":
        session.execute(update(VerdictRow).where(VerdictRow.id == old.verdict_id)
                        .values(review_status=STATUS_ESCALATED))
    audit(session, actor=reviewer, action="review.change", subject_type="verdict", subject_id=old.verdict_id,
          details={"decision": decision, "decision_id": record.id, "previous_decision": old.decision,
                   "previous_decision_id": old.id, "note_chars": len(note or "")})
    return record


@dataclass(frozen=True)
class RecentDecision:
    """One of a reviewer's own active decisions, as "My recent decisions" lists it."""

    decision_id: int
    verdict_id: int
    decision: str
    note: str | None
    created_at: datetime
    source_id: str | None
    latest: bool  # the item's latest active decision: only then can it be changed
    changeable_to: tuple[str, ...]  # what a change may turn it into (see ``change``)


def recent_decisions(session: Session, reviewer: str, *, limit: int = 10,
                     tenant: str | None = None) -> list[RecentDecision]:
    """``reviewer``'s latest active decisions, newest first (the source id is shown here: it is hidden on the
    item page until the decision is made, so it cannot bias it)."""
    reviewer = clean_reviewer(reviewer)
    later = ~_later_active()
    rows = session.execute(
        select(ReviewDecision, Document.source_id, later.label("latest"))
        .join(VerdictRow, VerdictRow.id == ReviewDecision.verdict_id)
        .join(Document, Document.id == VerdictRow.document_id)
        .where(ReviewDecision.reviewer == reviewer, active_decision(), tenant_scope(tenant))
        .order_by(ReviewDecision.created_at.desc(), ReviewDecision.id.desc()).limit(limit)).all()
    out = []
    for record, source_id, latest in rows:
        if record.decision == "escalate":
            targets: tuple[str, ...] = ()
        else:
            targets = tuple(d for d in DECISIONS if d != record.decision
                            and (d != "escalate" or record.previous_status is None))
        out.append(RecentDecision(record.id, record.verdict_id, record.decision, record.note, record.created_at,
                                  source_id, bool(latest), targets if latest else ()))
    return out


__all__ = ["DEFAULT_UNDO_SECONDS", "RecentDecision", "change", "decide", "recent_decisions", "undo"]
