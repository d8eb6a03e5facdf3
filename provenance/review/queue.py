"""The work queue: filters, one keyset page, counts and the job list to filter by.

Queries are written for 100,000+ verdicts: the queue walks the ``(needs_review, review_priority)`` index with
keyset pagination (no OFFSET scan), and counting stops at a cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from provenance.review.common import (
    DEFAULT_PAGE_SIZE,
    ORDERINGS,
    STATUS_ESCALATED,
    STATUS_OPEN,
    STATUS_OVERLAP,
    VERDICTS,
    ReviewError,
    decided_by,
    escape_like,
    tenant_scope,
)
from provenance.store.models import (
    ReviewLease,
    ScanJob,
    VerdictRow,
    utcnow,
)


@dataclass(frozen=True)
class QueueFilters:
    """What a reviewer narrows the queue to. ``status`` "open" is the work queue; "escalated" is the
    second-level queue that escalated items move to."""

    job_id: str | None = None
    verdicts: tuple[str, ...] = ()
    p_min: float = 0.0
    p_max: float = 1.0
    entity_type: str | None = None
    misuse_only: bool = False
    status: str = STATUS_OPEN
    ordering: str = "priority"  # or "uncertainty": P(machine) closest to 0.5 first (what the model is least sure of)
    tenant: str | None = None  # the signed-in account's tenant (None: a platform-admin, every tenant)
    # Leave out items this reviewer already decided or escalated: the second opinion on an overlap item and the
    # settling of an escalation must come from someone else (``claim_next`` always sets it).
    reviewer: str | None = None

    def validated(self) -> QueueFilters:
        """Reject nonsense early with a message (a reviewer typo must never become a traceback)."""
        unknown = [v for v in self.verdicts if v not in VERDICTS]
        if unknown:
            raise ReviewError(f"unknown verdict filter {unknown[0]!r}", hint="use: " + ", ".join(VERDICTS))
        if not (0.0 <= self.p_min <= self.p_max <= 1.0):
            raise ReviewError(f"score range {self.p_min}..{self.p_max} is not within 0..1 (low <= high)")
        if self.ordering not in ORDERINGS:
            raise ReviewError(f"unknown queue ordering {self.ordering!r}", hint="use: " + ", ".join(ORDERINGS))
        if self.status not in (STATUS_OPEN, STATUS_ESCALATED):
            raise ReviewError(f"unknown queue status {self.status!r}", hint="use open or escalated")
        if self.entity_type is not None and not self.entity_type.replace("_", "").isalnum():
            raise ReviewError(f"invalid entity type {self.entity_type!r}", hint="e.g. PERSON or EMAIL_ADDRESS")
        return self


@dataclass(frozen=True)
class QueueRow:
    id: int
    review_priority: float
    verdict: str
    p_machine: float | None
    margin: float | None
    pii_types: str
    watermarked: bool
    ledger_manifest_id: str | None
    misuse: bool
    job_id: str | None
    created_at: datetime
    taken_by: str | None  # reviewer holding an unexpired lease


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: tuple[float, int] | None  # (priority, id) of the last row when more rows follow



def queue_conditions(filters: QueueFilters) -> list[Any]:
    # The open queue holds new items and overlap items waiting for their second, independent decision.
    status = or_(VerdictRow.review_status.is_(None), VerdictRow.review_status == STATUS_OVERLAP) \
        if filters.status == STATUS_OPEN else VerdictRow.review_status == STATUS_ESCALATED
    conditions: list[Any] = [VerdictRow.needs_review.is_(True), status]
    if filters.job_id:
        conditions.append(VerdictRow.job_id == filters.job_id)
    if filters.verdicts:
        conditions.append(VerdictRow.verdict.in_(filters.verdicts))
    if filters.p_min > 0.0 or filters.p_max < 1.0:
        conditions.append(VerdictRow.p_machine.between(filters.p_min, filters.p_max))
    if filters.entity_type:
        conditions.append(VerdictRow.pii_types.like(f"%,{escape_like(filters.entity_type)},%", escape="\\"))
    if filters.misuse_only:
        conditions.append(VerdictRow.misuse.is_(True))
    if filters.ordering == "uncertainty":
        conditions.append(VerdictRow.p_machine.is_not(None))  # an abstained text has no boundary to be close to
    if filters.tenant is not None:
        conditions.append(tenant_scope(filters.tenant))
    if filters.reviewer:
        conditions.append(~decided_by(filters.reviewer))
    return conditions


def doubt() -> Any:
    """Distance of P(machine) from 0.5, where the calibrated model is least sure (smaller = ask first)."""
    return func.abs(VerdictRow.p_machine - 0.5)


def queue_page(session: Session, filters: QueueFilters | None = None, *, limit: int = DEFAULT_PAGE_SIZE,
               after: tuple[float, int] | None = None, now: datetime | None = None) -> QueuePage:
    """One page of the queue, most urgent first. Keyset pagination: ``after`` is the previous page's
    ``next_cursor``, so page 2,000 costs what page 1 costs (an OFFSET would scan every row before it)."""
    filters = (filters or QueueFilters()).validated()
    now = now or utcnow()
    conditions = queue_conditions(filters)
    uncertainty = filters.ordering == "uncertainty"
    if after is not None:
        key, last_id = after
        if uncertainty:
            conditions.append(or_(doubt() > key, and_(doubt() == key, VerdictRow.id > last_id)))
        else:
            conditions.append(or_(VerdictRow.review_priority < key,
                                  and_(VerdictRow.review_priority == key, VerdictRow.id < last_id)))
    lease = select(ReviewLease.reviewer).where(ReviewLease.verdict_id == VerdictRow.id,
                                               ReviewLease.expires_at > now).scalar_subquery()
    # needs_review leads the priority ORDER BY so SQLite and PostgreSQL walk ix_verdicts_review backwards
    order = (doubt().asc(), VerdictRow.id.asc()) if uncertainty else \
        (VerdictRow.needs_review.desc(), VerdictRow.review_priority.desc(), VerdictRow.id.desc())
    statement = (select(VerdictRow.id, VerdictRow.review_priority, VerdictRow.verdict, VerdictRow.p_machine,
                        VerdictRow.margin,
                        VerdictRow.pii_types, VerdictRow.watermarked, VerdictRow.ledger_manifest_id, VerdictRow.misuse,
                        VerdictRow.job_id, VerdictRow.created_at, lease.label("taken_by"))
                 .where(*conditions).order_by(*order).limit(limit + 1))
    rows = [QueueRow(*row) for row in session.execute(statement)]
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    cursor = None
    if more and last is not None:
        cursor = (abs(last.p_machine - 0.5), last.id) if uncertainty else (last.review_priority, last.id)
    return QueuePage(rows, cursor)


def queue_count(session: Session, filters: QueueFilters | None = None, *, cap: int = 100_000) -> int:
    """How many items match, counted up to ``cap`` (an exact count of millions is not worth the wait)."""
    filters = (filters or QueueFilters()).validated()
    inner = select(VerdictRow.id).where(*queue_conditions(filters)).limit(cap).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def entity_types_present(session: Session, *, tenant: str | None = None) -> list[str]:
    """The PII entity types that occur in the verdicts ``tenant`` may see, sorted: the queue's filter offers
    these instead of a fixed list (which offered types that never occur and missed ones that do). One
    DISTINCT over the ``pii_types`` strings (few distinct combinations however many verdicts)."""
    found: set[str] = set()
    query = select(VerdictRow.pii_types).where(VerdictRow.pii_types.is_not(None), VerdictRow.pii_types != "",
                                               tenant_scope(tenant)).distinct()
    for value in session.scalars(query):
        found.update(part for part in str(value).split(",") if part)
    return sorted(found)


def job_ids(session: Session, limit: int = 200, *, tenant: str | None = None) -> list[str]:
    """Jobs to filter by, newest first (``tenant``'s only, unless None)."""
    query = select(ScanJob.id).order_by(ScanJob.created_at.desc()).limit(limit)
    if tenant is not None:
        query = query.where(ScanJob.tenant == tenant)
    return list(session.scalars(query))
