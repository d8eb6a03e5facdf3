"""Leases: who holds an item, claimed atomically so two reviewers never work on the same one.

Every function takes the caller's ``Session`` and never commits, so a claim and what follows it commit together.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import (
    DateTime,
    String,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provenance.review.common import (
    STATUS_DECIDED,
    UNCERTAINTY_RANDOM_SHARE,
    active_decision,
    clean_reviewer,
    decided_by,
    visible,
)
from provenance.review.queue import QueueFilters, queue_conditions, queue_page
from provenance.store.audit import audit
from provenance.store.models import (
    ReviewDecision,
    ReviewLease,
    VerdictRow,
    utcnow,
)


@dataclass(frozen=True)
class ClaimResult:
    ok: bool
    verdict_id: int
    holder: str | None
    expires_at: datetime | None
    message: str



def _upsert_lease(session: Session, verdict_id: int, reviewer: str, expires: datetime, now: datetime) -> None:
    """INSERT the lease, or take it over only when it expired (or is already ours), in one statement.

    ``INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE`` is atomic on SQLite and PostgreSQL: two reviewers
    racing for the same item serialise on the primary key and exactly one of them ends up holding it. The
    SELECT from ``verdicts`` makes it a no-op for a missing or decided item (no foreign-key error to recover
    from), and as the transaction's first statement it takes SQLite's write lock before any read (a
    transaction that reads first can fail at once with "database is locked" when another writer got in)."""
    dialect = session.get_bind().dialect.name
    source = select(VerdictRow.id, literal(reviewer, String()), literal(expires, DateTime())).where(
        VerdictRow.id == verdict_id,
        or_(VerdictRow.review_status.is_(None), VerdictRow.review_status != STATUS_DECIDED),
        ~decided_by(reviewer))
    columns = ["verdict_id", "reviewer", "expires_at"]
    takeover = or_(ReviewLease.expires_at <= now, ReviewLease.reviewer == reviewer)
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        statement = dialect_insert(ReviewLease).from_select(columns, source).on_conflict_do_update(
            index_elements=[ReviewLease.verdict_id], set_={"reviewer": reviewer, "expires_at": expires},
            where=takeover)
        session.execute(statement)
        return
    try:  # other databases: INSERT in a savepoint, then a conditional UPDATE
        with session.begin_nested():
            session.execute(insert(ReviewLease).from_select(columns, source))
    except IntegrityError:
        session.execute(update(ReviewLease).where(ReviewLease.verdict_id == verdict_id, takeover)
                        .values(reviewer=reviewer, expires_at=expires))


def claim(session: Session, verdict_id: int, reviewer: str, lease_seconds: float,
          now: datetime | None = None, *, tenant: str | None = None) -> ClaimResult:
    """Claim an item for ``lease_seconds`` (renewing our own claim). Losers get "taken by X". An item outside
    ``tenant``'s scope answers exactly like a missing one.

    The write comes first (see ``_upsert_lease``); the reads after it only report the outcome."""
    reviewer = clean_reviewer(reviewer)
    now = now or utcnow()
    if tenant is not None and not visible(session, verdict_id, tenant):
        return ClaimResult(False, verdict_id, None, None, f"item {verdict_id} does not exist")
    _upsert_lease(session, verdict_id, reviewer, now + timedelta(seconds=lease_seconds), now)
    status = session.execute(select(VerdictRow.review_status).where(VerdictRow.id == verdict_id)).first()
    if status is None or status[0] == STATUS_DECIDED:
        what = "does not exist" if status is None else "has already been decided"
        return ClaimResult(False, verdict_id, None, None, f"item {verdict_id} {what}")
    mine = session.scalar(select(ReviewDecision.decision).where(
        ReviewDecision.verdict_id == verdict_id, ReviewDecision.reviewer == reviewer, active_decision()).limit(1))
    if mine is not None:
        what = "escalated" if mine == "escalate" else "already decided"
        return ClaimResult(False, verdict_id, None, None, f"you {what} item {verdict_id}: the next decision on it "
                           "must come from another reviewer")
    found = session.execute(select(ReviewLease.reviewer, ReviewLease.expires_at)
                            .where(ReviewLease.verdict_id == verdict_id)
                            .execution_options(populate_existing=True)).first()
    if found is None:
        return ClaimResult(False, verdict_id, None, None, f"item {verdict_id} could not be claimed")
    holder, expires = found
    if holder == reviewer:
        return ClaimResult(True, verdict_id, holder, expires,
                           f"item {verdict_id} is yours until {expires:%H:%M:%S} UTC")
    return ClaimResult(False, verdict_id, holder, expires,
                       f"item {verdict_id} is taken by {holder} (until {expires:%H:%M:%S} UTC)")


def release(session: Session, verdict_id: int, reviewer: str) -> None:
    """Give an item back (only our own lease)."""
    session.execute(delete(ReviewLease).where(ReviewLease.verdict_id == verdict_id,
                                              ReviewLease.reviewer == reviewer))


def release_item(session: Session, verdict_id: int, reviewer: str, *, action: str = "review.release") -> bool:
    """Give an item back and audit it (``review.release``, or ``review.skip`` for a skip); whether a lease of
    ours was released (False: it had expired or was never ours, which the audit row records too)."""
    reviewer = clean_reviewer(reviewer)
    released = session.execute(delete(ReviewLease).where(ReviewLease.verdict_id == verdict_id,
                                                         ReviewLease.reviewer == reviewer)).rowcount == 1
    audit(session, actor=reviewer, action=action, subject_type="verdict", subject_id=verdict_id,
          details={"released": released})
    return released


def skip(session: Session, verdict_id: int, reviewer: str, lease_seconds: float,
         filters: QueueFilters | None = None, *, avoid: Sequence[int] = (), now: datetime | None = None,
         rng: random.Random | None = None) -> ClaimResult | None:
    """Skip an item: release its lease (audited ``review.skip``) and claim the next free item other than it
    (and other than ``avoid``, the items skipped before in this sitting); None when there is no other item.
    The skipped item stays in the queue for the other reviewers and for later."""
    release_item(session, verdict_id, reviewer, action="review.skip")
    return claim_next(session, reviewer, lease_seconds, filters, now=now, skip=(verdict_id, *avoid), rng=rng)


def claim_next(session: Session, reviewer: str, lease_seconds: float, filters: QueueFilters | None = None,
               *, now: datetime | None = None, skip: Sequence[int] = (), attempts: int = 5,
               rng: random.Random | None = None) -> ClaimResult | None:
    """Claim the most urgent free item matching ``filters``; None when the queue is empty.

    In ``uncertainty`` order a share (``UNCERTAINTY_RANDOM_SHARE``) of the items handed out is drawn at random
    from the matching queue instead, so the labels also cover what the model is sure of (a retrain on doubtful
    items only would learn a skewed picture of the domain)."""
    reviewer = clean_reviewer(reviewer)
    now = now or utcnow()
    filters = replace((filters or QueueFilters()).validated(), reviewer=reviewer)
    # Housekeeping that is also this transaction's first write (see ``claim``): expired leases are free anyway.
    session.execute(delete(ReviewLease).where(ReviewLease.expires_at <= now))
    if filters.ordering == "uncertainty" and (rng or random).random() < UNCERTAINTY_RANDOM_SHARE:
        taken = select(ReviewLease.verdict_id).where(ReviewLease.verdict_id == VerdictRow.id,
                                                     ReviewLease.expires_at > now,
                                                     ReviewLease.reviewer != reviewer).exists()
        candidates = session.scalars(select(VerdictRow.id).where(*queue_conditions(filters), ~taken)
                                     .order_by(func.random()).limit(20))
        for verdict_id in candidates:
            if verdict_id in skip:
                continue
            result = claim(session, verdict_id, reviewer, lease_seconds, now=now, tenant=filters.tenant)
            if result.ok:
                return result
    cursor = None
    for _ in range(attempts):
        page = queue_page(session, filters, limit=20, after=cursor, now=now)
        for row in page.rows:
            if row.id in skip or (row.taken_by and row.taken_by != reviewer):
                continue
            result = claim(session, row.id, reviewer, lease_seconds, now=now, tenant=filters.tenant)
            if result.ok:
                return result
        if page.next_cursor is None:
            return None
        cursor = page.next_cursor
    return None
