"""The reviewer data layer the dashboard reads through: queue, leases, decisions, jobs, stats and audit.

Everything here takes a SQLAlchemy ``Session`` and never commits: the caller's ``session_scope`` is the one
transaction, so a decision, its audit row and the lease release commit together or not at all. Queries are
written for 100,000+ verdicts: the queue walks the ``(needs_review, review_priority)`` index with keyset
pagination (no OFFSET scan), and every aggregate is a ``GROUP BY`` in the database, never a Python loop over
rows.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError
from provenance.store.audit import audit
from provenance.store.models import (
    AuditLog,
    Document,
    JobItem,
    Manifest,
    ReviewDecision,
    Reviewer,
    ReviewLease,
    ScanJob,
    VerdictRow,
    utcnow,
)

DECISIONS = ("machine", "human", "misuse", "escalate")
VERDICTS = ("machine", "human", "uncertain", "abstain")
ENTITY_TYPES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "LOCATION", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS",
                "US_SSN", "URL", "DATE_TIME")
STATUS_OPEN, STATUS_DECIDED, STATUS_ESCALATED = "open", "decided", "escalated"
DEFAULT_PAGE_SIZE = 50
ORDERINGS = ("priority", "uncertainty")
UNCERTAINTY_RANDOM_SHARE = 0.2  # of items handed out in uncertainty order, this share is drawn at random instead
MAX_REVIEWER_LENGTH = 128


class ReviewError(ProvenanceError):
    """A reviewer action that cannot be done (taken, already decided, bad input): shown as a message."""


# ----------------------------------------------------------------------------------------------- queue
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


def tenant_scope(tenant: str | None) -> Any:
    """Verdicts a tenant's reviewer may see: the scoring job is the tenant's, or one of the tenant's jobs holds
    the document (documents are shared by content). ``None`` (a platform-admin): every verdict."""
    if tenant is None:
        return true()
    scored_by = select(ScanJob.id).where(ScanJob.id == VerdictRow.job_id, ScanJob.tenant == tenant).exists()
    holds = (select(JobItem.id).join(ScanJob, ScanJob.id == JobItem.job_id)
             .where(JobItem.document_id == VerdictRow.document_id, ScanJob.tenant == tenant).exists())
    return or_(scored_by, holds)


def visible(session: Session, verdict_id: int, tenant: str | None) -> bool:
    """Whether ``verdict_id`` exists and is in ``tenant``'s scope (another tenant's item reads as missing)."""
    return session.scalar(select(VerdictRow.id).where(VerdictRow.id == verdict_id, tenant_scope(tenant))) is not None


def _queue_conditions(filters: QueueFilters) -> list[Any]:
    status = VerdictRow.review_status.is_(None) if filters.status == STATUS_OPEN else \
        VerdictRow.review_status == STATUS_ESCALATED
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
    return conditions


def _doubt() -> Any:
    """Distance of P(machine) from 0.5, where the calibrated model is least sure (smaller = ask first)."""
    return func.abs(VerdictRow.p_machine - 0.5)


def queue_page(session: Session, filters: QueueFilters | None = None, *, limit: int = DEFAULT_PAGE_SIZE,
               after: tuple[float, int] | None = None, now: datetime | None = None) -> QueuePage:
    """One page of the queue, most urgent first. Keyset pagination: ``after`` is the previous page's
    ``next_cursor``, so page 2,000 costs what page 1 costs (an OFFSET would scan every row before it)."""
    filters = (filters or QueueFilters()).validated()
    now = now or utcnow()
    conditions = _queue_conditions(filters)
    uncertainty = filters.ordering == "uncertainty"
    if after is not None:
        key, last_id = after
        if uncertainty:
            conditions.append(or_(_doubt() > key, and_(_doubt() == key, VerdictRow.id > last_id)))
        else:
            conditions.append(or_(VerdictRow.review_priority < key,
                                  and_(VerdictRow.review_priority == key, VerdictRow.id < last_id)))
    lease = select(ReviewLease.reviewer).where(ReviewLease.verdict_id == VerdictRow.id,
                                               ReviewLease.expires_at > now).scalar_subquery()
    # needs_review leads the priority ORDER BY so SQLite and PostgreSQL walk ix_verdicts_review backwards
    order = (_doubt().asc(), VerdictRow.id.asc()) if uncertainty else \
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
    inner = select(VerdictRow.id).where(*_queue_conditions(filters)).limit(cap).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def job_ids(session: Session, limit: int = 200, *, tenant: str | None = None) -> list[str]:
    """Jobs to filter by, newest first (``tenant``'s only, unless None)."""
    query = select(ScanJob.id).order_by(ScanJob.created_at.desc()).limit(limit)
    if tenant is not None:
        query = query.where(ScanJob.tenant == tenant)
    return list(session.scalars(query))


# ----------------------------------------------------------------------------------------------- leases
@dataclass(frozen=True)
class ClaimResult:
    ok: bool
    verdict_id: int
    holder: str | None
    expires_at: datetime | None
    message: str


def escape_like(value: str) -> str:
    """``%`` and ``_`` match anything in LIKE: escape them (and the escape character) so a filter value is
    matched literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _clean_reviewer(reviewer: str) -> str:
    name = (reviewer or "").strip()
    if not name:
        raise ReviewError("a reviewer name is required", hint="enter your name in the sidebar")
    if len(name) > MAX_REVIEWER_LENGTH:
        raise ReviewError(f"reviewer name longer than {MAX_REVIEWER_LENGTH} characters")
    return name


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
        or_(VerdictRow.review_status.is_(None), VerdictRow.review_status != STATUS_DECIDED))
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
    reviewer = _clean_reviewer(reviewer)
    now = now or utcnow()
    if tenant is not None and not visible(session, verdict_id, tenant):
        return ClaimResult(False, verdict_id, None, None, f"item {verdict_id} does not exist")
    _upsert_lease(session, verdict_id, reviewer, now + timedelta(seconds=lease_seconds), now)
    status = session.execute(select(VerdictRow.review_status).where(VerdictRow.id == verdict_id)).first()
    if status is None or status[0] == STATUS_DECIDED:
        what = "does not exist" if status is None else "has already been decided"
        return ClaimResult(False, verdict_id, None, None, f"item {verdict_id} {what}")
    holder, expires = session.execute(select(ReviewLease.reviewer, ReviewLease.expires_at)
                                      .where(ReviewLease.verdict_id == verdict_id)
                                      .execution_options(populate_existing=True)).one()
    if holder == reviewer:
        return ClaimResult(True, verdict_id, holder, expires,
                           f"item {verdict_id} is yours until {expires:%H:%M:%S} UTC")
    return ClaimResult(False, verdict_id, holder, expires,
                       f"item {verdict_id} is taken by {holder} (until {expires:%H:%M:%S} UTC)")


def release(session: Session, verdict_id: int, reviewer: str) -> None:
    """Give an item back (only our own lease)."""
    session.execute(delete(ReviewLease).where(ReviewLease.verdict_id == verdict_id,
                                              ReviewLease.reviewer == reviewer))


def claim_next(session: Session, reviewer: str, lease_seconds: float, filters: QueueFilters | None = None,
               *, now: datetime | None = None, skip: Sequence[int] = (), attempts: int = 5,
               rng: random.Random | None = None) -> ClaimResult | None:
    """Claim the most urgent free item matching ``filters``; None when the queue is empty.

    In ``uncertainty`` order a share (``UNCERTAINTY_RANDOM_SHARE``) of the items handed out is drawn at random
    from the matching queue instead, so the labels also cover what the model is sure of (a retrain on doubtful
    items only would learn a skewed picture of the domain)."""
    reviewer = _clean_reviewer(reviewer)
    now = now or utcnow()
    filters = (filters or QueueFilters()).validated()
    # Housekeeping that is also this transaction's first write (see ``claim``): expired leases are free anyway.
    session.execute(delete(ReviewLease).where(ReviewLease.expires_at <= now))
    if filters.ordering == "uncertainty" and (rng or random).random() < UNCERTAINTY_RANDOM_SHARE:
        taken = select(ReviewLease.verdict_id).where(ReviewLease.verdict_id == VerdictRow.id,
                                                     ReviewLease.expires_at > now,
                                                     ReviewLease.reviewer != reviewer).exists()
        candidates = session.scalars(select(VerdictRow.id).where(*_queue_conditions(filters), ~taken)
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


# -------------------------------------------------------------------------------------------- decisions
def decide(session: Session, verdict_id: int, reviewer: str, decision: str, note: str | None = None,
           *, now: datetime | None = None, tenant: str | None = None) -> ReviewDecision:
    """Record a decision, its audit row and the lease release in the caller's transaction.

    Refused (ReviewError) when another reviewer holds an unexpired lease or the item was already decided, so
    two reviewers can never both decide one item; an escalated item may be decided again (second level)."""
    reviewer = _clean_reviewer(reviewer)
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


# ------------------------------------------------------------------------------------------------- item
@dataclass
class ItemDetail:
    verdict: VerdictRow
    text: str
    source_id: str | None
    content_hash: str
    manifest: dict[str, Any] | None
    decisions: list[ReviewDecision] = field(default_factory=list)


def item_detail(session: Session, verdict_id: int, *, tenant: str | None = None) -> ItemDetail | None:
    """Everything the item view shows that lives in the database (the ledger lookup is separate). For a
    tenant's reviewer: None outside its scope, its own record id, and the ledger manifest only when it is in
    the tenant's own ledger (``provenance.tenant_view``, the API's rules)."""
    found = session.execute(select(VerdictRow, Document).join(Document, Document.id == VerdictRow.document_id)
                            .where(VerdictRow.id == verdict_id, tenant_scope(tenant))).first()
    if found is None:
        return None
    verdict, document = found
    source_id = document.source_id
    manifest_id = verdict.ledger_manifest_id
    if tenant is not None:
        from provenance.tenant_view import own_manifest_id, own_source_id

        source_id = own_source_id(session, tenant, document.id, verdict.job_id)
        manifest_id = own_manifest_id(session, tenant, verdict)
    manifest = None
    if manifest_id:
        row = session.get(Manifest, manifest_id)
        manifest = dict(row.body) if row is not None else None
    decisions = list(session.scalars(select(ReviewDecision).where(ReviewDecision.verdict_id == verdict_id)
                                     .order_by(ReviewDecision.created_at)))
    return ItemDetail(verdict, document.redacted_text or "", source_id, document.content_hash, manifest, decisions)


def ledger_matches(session: Session, settings: Any, text: str, *, tenant: str | None = None) -> list[dict[str, Any]]:
    """Near-duplicate and containment manifests of a stored text, by the provenance signal's lookup (the
    same one the scan pipeline and the API use): ``manifest_id``, ``kind``, ``similarity``. With ``tenant``
    only that tenant's ledger is searched (as ``/v1/verify`` does for a key)."""
    from provenance.signals import signal_set

    record = signal_set(settings).get("provenance").lookup([text], connection=session.connection(),
                                                           tenant=tenant)[0]
    matches = [{"manifest_id": d["manifest_id"], "kind": "near_duplicate", "similarity": d["similarity"]}
               for d in record.get("near_duplicates") or []]
    matches += [{"manifest_id": c["manifest_id"], "kind": "containment", "similarity": c["similarity"]}
                for c in record.get("containment") or []]
    return matches


def ensure_store(url: str) -> None:
    """Bring the store's schema to the head revision (the dashboard calls this once per server process)."""
    from provenance.store.schema import ensure_schema

    ensure_schema(url)


@contextmanager
def open_session(url: str) -> Iterator[Session]:
    """One transaction against the store at ``url`` (committed on success, rolled back on error)."""
    from provenance.store.engine import session_scope

    with session_scope(url) as session:
        yield session


def manifest_bodies(session: Session, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Signed manifests by id, in one query, for the near-duplicate table (model and requester)."""
    if not ids:
        return {}
    return {row.id: dict(row.body) for row in session.scalars(select(Manifest).where(Manifest.id.in_(list(ids))))}


# ------------------------------------------------------------------------------------------------- jobs
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


# ------------------------------------------------------------------------------------------------ stats
def verdict_distribution(session: Session, *, tenant: str | None = None) -> dict[str, int]:
    """Verdicts per label (one GROUP BY on the indexed column)."""
    return {v: int(n) for v, n in session.execute(select(VerdictRow.verdict, func.count()).where(tenant_scope(tenant))
                                                   .group_by(VerdictRow.verdict))}


def score_histogram(session: Session, column: str = "p_machine", bins: int = 20, low: float = 0.0,
                    high: float = 1.0, *, tenant: str | None = None) -> list[tuple[float, int]]:
    """(bin start, count) computed by the database; values outside [low, high] fall in the edge bins."""
    target = {"p_machine": VerdictRow.p_machine, "watermark_z": VerdictRow.watermark_z,
              "p_toxic": VerdictRow.p_toxic}[column]
    width = (high - low) / bins
    raw = cast(func.floor((target - low) / width), Integer)
    index = case((raw < 0, 0), (raw >= bins, bins - 1), else_=raw)
    counts = dict(session.execute(select(index, func.count()).where(target.is_not(None), tenant_scope(tenant))
                                  .group_by(index)).all())
    return [(round(low + i * width, 6), int(counts.get(i, 0))) for i in range(bins)]


def decisions_over_time(session: Session, days: int = 30, now: datetime | None = None, *,
                        tenant: str | None = None) -> list[tuple[str, str, int]]:
    """(day, decision, count) for the last ``days`` days. Days are bucketed in Python because truncating a
    timestamp to a date is dialect-specific; decisions are human-paced, so the window holds few rows."""
    since = (now or utcnow()) - timedelta(days=days)
    rows = session.execute(select(ReviewDecision.created_at, ReviewDecision.decision)
                           .join(VerdictRow, VerdictRow.id == ReviewDecision.verdict_id)
                           .where(ReviewDecision.created_at >= since, tenant_scope(tenant)))
    counts: dict[tuple[str, str], int] = {}
    for created, decision in rows:
        key = (created.date().isoformat(), decision)
        counts[key] = counts.get(key, 0) + 1
    return sorted((day, decision, n) for (day, decision), n in counts.items())


def agreement(session: Session, *, tenant: str | None = None) -> dict[str, Any]:
    """How often reviewers agree with the model: a (model verdict x decision) table and the agreement rate
    over decisions that take a side (machine or human)."""
    rows = session.execute(select(VerdictRow.verdict, ReviewDecision.decision, func.count())
                           .join(VerdictRow, VerdictRow.id == ReviewDecision.verdict_id).where(tenant_scope(tenant))
                           .group_by(VerdictRow.verdict, ReviewDecision.decision)).all()
    table = [{"model": v, "reviewer": d, "count": int(n)} for v, d, n in rows]
    sided = [r for r in table if r["reviewer"] in ("machine", "human") and r["model"] in ("machine", "human")]
    total = sum(r["count"] for r in sided)
    agree = sum(r["count"] for r in sided if r["model"] == r["reviewer"])
    return {"table": table, "decisions": sum(r["count"] for r in table), "sided": total,
            "agreement": (agree / total) if total else None}


def retrain_labels(session: Session) -> dict[str, Any]:
    """How many labels the next ``detect retrain --from-reviews`` would use (machine/human decisions on documents
    whose raw text was kept; disagreements left out), with the counts it would refuse or leave out."""
    from provenance.reviews import review_labels

    return review_labels(session).summary()


def last_promotion(settings: Any) -> dict[str, Any] | None:
    """The last ``detect promote`` (or rollback): which bundle, from which, and the before/after numbers."""
    from provenance.bundles import last_promotion as last

    return last(settings)


def review_counts(session: Session, *, tenant: str | None = None) -> dict[str, int]:
    """All verdicts, open queue, escalated and decided, in one scan instead of four counts."""
    needs = VerdictRow.needs_review.is_(True)
    row = session.execute(select(
        func.count(), func.sum(case((needs & VerdictRow.review_status.is_(None), 1), else_=0)),
        func.sum(case((VerdictRow.review_status == STATUS_ESCALATED, 1), else_=0)),
        func.sum(case((VerdictRow.review_status == STATUS_DECIDED, 1), else_=0))).where(tenant_scope(tenant))).one()
    return {"verdicts": int(row[0] or 0), "open": int(row[1] or 0), "escalated": int(row[2] or 0),
            "decided": int(row[3] or 0)}


# ------------------------------------------------------------------------------------------------ audit
AUDIT_COLUMNS = ("id", "at", "actor", "action", "subject_type", "subject_id", "decision", "note", "details")


def audit_rows(session: Session, *, actor: str | None = None, action: str | None = None,
               subject_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
               limit: int = 1000, tenant: str | None = None) -> list[dict[str, Any]]:
    """Audit history newest first; review decisions carry their decision and note. For a tenant's reviewer
    (``tenant`` set): only rows whose actor is one of that tenant's accounts (the audit log has no tenant
    column; platform rows, API rows and unauthenticated sign-in attempts are the platform-admin's)."""
    conditions = []
    if tenant is not None:
        conditions.append(AuditLog.actor.in_(select(Reviewer.name).where(Reviewer.tenant == tenant)))
    if actor:
        conditions.append(AuditLog.actor == actor)
    if action:
        conditions.append(AuditLog.action == action)
    if subject_id:
        conditions.append(AuditLog.subject_id == str(subject_id))
    if since:
        conditions.append(AuditLog.at >= since)
    if until:
        conditions.append(AuditLog.at < until)
    rows = list(session.scalars(select(AuditLog).where(*conditions)
                                .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)))
    decision_ids = [r.details.get("decision_id") for r in rows if isinstance(r.details, dict)]
    notes = {}
    wanted = [int(i) for i in decision_ids if isinstance(i, int)]
    if wanted:
        notes = dict(session.execute(select(ReviewDecision.id, ReviewDecision.note)
                                     .where(ReviewDecision.id.in_(wanted))).all())
    out = []
    for row in rows:
        details = row.details if isinstance(row.details, dict) else {}
        out.append({"id": row.id, "at": row.at, "actor": row.actor, "action": row.action,
                    "subject_type": row.subject_type, "subject_id": row.subject_id,
                    "decision": details.get("decision"), "note": notes.get(details.get("decision_id")),
                    "details": details})
    return out


def audit_actions(session: Session) -> list[str]:
    """Distinct audit actions, for the audit page's filter (the action column is indexed)."""
    return list(session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))


def audit_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV text of ``audit_rows`` output (details as JSON), for the export button. Every text cell goes through
    ``spreadsheet_safe``: actors and subjects include names typed by people who never signed in."""
    import json

    from provenance.csv_safety import spreadsheet_safe

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(AUDIT_COLUMNS)
    for row in rows:
        values = []
        for column in AUDIT_COLUMNS:
            value = row.get(column)
            if column == "details":
                value = json.dumps(value, sort_keys=True, default=str)
            elif isinstance(value, datetime):
                value = value.isoformat(sep=" ", timespec="seconds")
            values.append("" if value is None else spreadsheet_safe(value))
        writer.writerow(values)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------ seeding
_WORDS = ("the", "river", "report", "said", "that", "our", "team", "would", "review", "every", "letter", "before",
          "the", "morning", "meeting", "and", "then", "send", "a", "short", "summary", "to", "the", "council",
          "with", "notes", "on", "the", "budget", "the", "weather", "and", "the", "new", "road")


def _seed_text(rng: random.Random, index: int) -> tuple[str, list[dict[str, Any]], list[str]]:
    """A redacted-looking text with PII placeholders and their offsets (as the pipeline writes them)."""
    words = rng.choices(_WORDS, k=rng.randint(30, 70))
    pieces: list[str] = []
    entities: list[dict[str, Any]] = []
    position = 0
    for i, word in enumerate(words):
        token = word
        if i % 17 == 5 and rng.random() < 0.6:
            kind = rng.choice(("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "LOCATION"))
            token = f"<{kind}>"
            entities.append({"type": kind, "start": position, "end": position + len(token),
                             "score": round(rng.uniform(0.6, 1.0), 2)})
        pieces.append(token)
        position += len(token) + 1
    text = " ".join(pieces)
    text = text[:1].upper() + text[1:] + f". (sample {index})"
    return text, entities, sorted({e["type"] for e in entities})


def seed_demo_verdicts(session: Session, n: int, *, seed: int = 0, job_id: str = "demo-job",
                       bundle_version: str = "demo", batch: int = 5000) -> int:
    """Insert ``n`` documents and verdicts (and their job) with bulk INSERTs; returns the first verdict id.

    For tests, benchmarks and demos only: realistic shapes (PII offsets in the redacted text, detector scores,
    watermark summaries, priorities) without running the pipeline."""
    rng = random.Random(seed)
    now = utcnow()
    if session.get(ScanJob, job_id) is None:
        session.add(ScanJob(id=job_id, status="done", inputs={}, bundle_version=bundle_version, total=n,
                            documents=n, chunks_total=max(1, n // 100), chunks_done=max(1, n // 100),
                            new_verdicts=n, submission_done=True, created_at=now, started_at=now, finished_at=now))
        session.flush()
    first_doc = int(session.scalar(select(func.coalesce(func.max(Document.id), 0))) or 0) + 1
    first_verdict = int(session.scalar(select(func.coalesce(func.max(VerdictRow.id), 0))) or 0) + 1
    for start in range(0, n, batch):
        documents, verdicts = [], []
        for offset in range(start, min(n, start + batch)):
            index = first_doc + offset
            text, entities, types = _seed_text(rng, index)
            p = rng.random()
            verdict = "machine" if p > 0.8 else "human" if p < 0.2 else "uncertain"
            if rng.random() < 0.02:
                verdict, p = "abstain", None
            margin = None if p is None else round(min(abs(p - 0.8), abs(p - 0.2)), 4)
            z = round(rng.gauss(1.5 if verdict == "machine" else 0.0, 2.0), 3)
            watermarked = z > 4.0
            misuse = rng.random() < 0.03
            needs = verdict == "uncertain" or bool(entities) or watermarked or misuse or \
                (verdict == "machine" and (margin or 0) < 0.05)
            priority = round((2.0 if misuse else 0) + (1.5 if watermarked else 0) + 0.2 * len(entities)
                             + (1.0 - 2 * (margin or 0)) * (verdict == "uncertain") + rng.random() * 0.1, 6)
            documents.append({"id": index, "content_hash": f"{seed:04d}{index:060d}"[-64:], "source_id":
                              f"{job_id}/{offset}", "num_chars": len(text), "redacted_text": text,
                              "created_at": now})
            verdicts.append({
                "document_id": index, "bundle_version": bundle_version, "job_id": job_id, "p_machine": p,
                "verdict": verdict, "margin": margin,
                "detectors": {"perplexity": round(rng.random(), 3), "classifier": round(rng.random(), 3),
                              "fast_detectgpt": round(rng.random(), 3)},
                "reasons": [] if verdict != "abstain" else ["too few tokens"], "num_tokens": len(text) // 4,
                "watermark": {"z_score": z, "p_value": 1e-6 if watermarked else 0.4, "watermarked": watermarked,
                              "key_id": "wm-demo" if watermarked else None, "num_tokens_scored": len(text) // 5},
                "watermarked": watermarked, "watermark_z": z, "watermark_p": 1e-6 if watermarked else 0.4,
                "watermark_key_id": "wm-demo" if watermarked else None, "ledger_manifest_id": None,
                "pii": entities, "pii_count": len(entities), "pii_types": ("," + ",".join(types) + ",") if types
                else "", "toxicity": None, "p_toxic": None, "misuse": misuse, "models": {"bundle": bundle_version},
                "needs_review": needs, "review_priority": priority if needs else 0.0, "review_status": None,
                "created_at": now})
        connection = session.connection()  # Core executemany: no RETURNING, no per-row ORM work
        connection.execute(Document.__table__.insert(), documents)
        connection.execute(VerdictRow.__table__.insert(), verdicts)
    return first_verdict
