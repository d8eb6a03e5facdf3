"""The reviewer data layer the dashboard reads through: queue, leases, decisions, items, jobs, stats and audit,
plus reviewer accounts (``accounts``) and decisions as training labels (``labels``).

Everything here takes a SQLAlchemy ``Session`` and never commits: the caller's ``session_scope`` is the one
transaction, so a decision, its audit row and the lease release commit together or not at all. Each module has
one reason to change; this package re-exports the public names so callers write ``review.queue_page(...)``.
"""

from __future__ import annotations

from provenance.review.audit import AUDIT_COLUMNS, audit_actions, audit_csv, audit_rows, review_actions
from provenance.review.common import (
    DECISIONS,
    DEFAULT_PAGE_SIZE,
    ENTITY_TYPES,
    MAX_REVIEWER_LENGTH,
    ORDERINGS,
    STATUS_DECIDED,
    STATUS_ESCALATED,
    STATUS_OPEN,
    STATUS_OVERLAP,
    UNCERTAINTY_RANDOM_SHARE,
    VERDICTS,
    ReviewError,
    escape_like,
    tenant_scope,
    visible,
)
from provenance.review.decisions import (
    DEFAULT_UNDO_SECONDS,
    RecentDecision,
    change,
    decide,
    overlap_share_for,
    recent_decisions,
    undo,
)
from provenance.review.evidence import (
    DetectorScale,
    PriorityBreakdown,
    ToxicityEvidence,
    WatermarkRule,
    detector_scale,
    priority_parts,
    toxicity_evidence,
    watermark_rule,
)
from provenance.review.items import ItemDetail, ensure_store, item_detail, ledger_matches, manifest_bodies, open_session
from provenance.review.jobs import jobs
from provenance.review.leases import ClaimResult, claim, claim_next, release, release_item, skip
from provenance.review.queue import (
    QueueFilters,
    QueuePage,
    QueueRow,
    entity_types_present,
    job_ids,
    queue_count,
    queue_page,
)
from provenance.review.stats import (
    agreement,
    decisions_over_time,
    last_promotion,
    retrain_labels,
    review_counts,
    reviewer_agreement,
    score_histogram,
    verdict_distribution,
)

__all__ = [
    "AUDIT_COLUMNS", "DEFAULT_UNDO_SECONDS", "STATUS_OVERLAP", "RecentDecision", "change", "recent_decisions",
    "release_item", "reviewer_agreement", "skip", "undo", "overlap_share_for",
    "DECISIONS", "DEFAULT_PAGE_SIZE", "ENTITY_TYPES", "MAX_REVIEWER_LENGTH", "ORDERINGS",
    "STATUS_DECIDED", "STATUS_ESCALATED", "STATUS_OPEN", "UNCERTAINTY_RANDOM_SHARE", "VERDICTS", "ClaimResult",
    "DetectorScale", "ItemDetail", "PriorityBreakdown", "QueueFilters", "QueuePage", "QueueRow", "ReviewError",
    "ToxicityEvidence", "WatermarkRule", "agreement", "audit_actions", "audit_csv", "audit_rows", "claim",
    "claim_next", "decide", "decisions_over_time", "detector_scale", "ensure_store", "entity_types_present",
    "escape_like", "item_detail", "job_ids", "jobs", "last_promotion", "ledger_matches", "manifest_bodies",
    "open_session", "priority_parts", "queue_count", "queue_page", "release", "retrain_labels", "review_actions",
    "review_counts", "score_histogram", "tenant_scope", "toxicity_evidence", "verdict_distribution", "visible",
    "watermark_rule",
]
