"""What every review module shares: the label sets, the error a reviewer sees, and the tenant scope.

A tenant's reviewer must never see another tenant's verdicts, so the scope condition lives here once and
every query of the package adds it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError
from provenance.store.models import (
    JobItem,
    ReviewDecision,
    ScanJob,
    VerdictRow,
)

DECISIONS = ("machine", "human", "misuse", "escalate")
VERDICTS = ("machine", "human", "uncertain", "abstain")
ENTITY_TYPES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "LOCATION", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS",
                "US_SSN", "URL", "DATE_TIME")
STATUS_OPEN, STATUS_DECIDED, STATUS_ESCALATED = "open", "decided", "escalated"
# Decided once and drawn for overlap sampling: waits in the open queue for a second, independent reviewer.
STATUS_OVERLAP = "overlap"
SIDED_DECISIONS = ("machine", "human", "misuse")  # what settles an item (escalate hands it on)
DEFAULT_PAGE_SIZE = 50
ORDERINGS = ("priority", "uncertainty")
UNCERTAINTY_RANDOM_SHARE = 0.2  # of items handed out in uncertainty order, this share is drawn at random instead
MAX_REVIEWER_LENGTH = 128


class ReviewError(ProvenanceError):
    """A reviewer action that cannot be done (taken, already decided, bad input): shown as a message."""


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



def active_decision() -> Any:
    """A decision that still counts: not undone and not replaced by a change (those rows are kept, marked)."""
    return ReviewDecision.superseded_at.is_(None)


def decided_by(reviewer: str) -> Any:
    """The verdict already has an active decision (or escalation) by ``reviewer``: a second opinion or the
    settling of an escalation must come from someone else, so such items are neither handed out to nor
    decidable by that reviewer."""
    return select(ReviewDecision.id).where(ReviewDecision.verdict_id == VerdictRow.id,
                                           ReviewDecision.reviewer == reviewer, active_decision()).exists()


def overlap_selected(verdict_id: int, share: float) -> bool:
    """Whether ``verdict_id`` is one of the ``share`` of items decided by two reviewers. A fixed hash of the id
    (Knuth's multiplicative hash, spread evenly over consecutive ids) rather than a random draw, so the choice
    is the same in every process and an undo followed by a new decision draws the same answer."""
    if share <= 0.0:
        return False
    return ((verdict_id * 2654435761) % 2**32) / 2**32 < share


def escape_like(value: str) -> str:
    """``%`` and ``_`` match anything in LIKE: escape them (and the escape character) so a filter value is
    matched literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def clean_reviewer(reviewer: str) -> str:
    name = (reviewer or "").strip()
    if not name:
        raise ReviewError("a reviewer name is required", hint="enter your name in the sidebar")
    if len(name) > MAX_REVIEWER_LENGTH:
        raise ReviewError(f"reviewer name longer than {MAX_REVIEWER_LENGTH} characters")
    return name
