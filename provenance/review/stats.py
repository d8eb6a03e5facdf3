"""The Stats page's figures, each one ``GROUP BY`` in the database, never a Python loop over verdicts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    case,
    cast,
    func,
    select,
)
from sqlalchemy.orm import Session

from provenance.review.common import (
    SIDED_DECISIONS,
    STATUS_DECIDED,
    STATUS_ESCALATED,
    STATUS_OVERLAP,
    active_decision,
    tenant_scope,
)
from provenance.store.models import (
    ReviewDecision,
    VerdictRow,
    utcnow,
)


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
                           .where(ReviewDecision.created_at >= since, active_decision(), tenant_scope(tenant)))
    counts: dict[tuple[str, str], int] = {}
    for created, decision in rows:
        key = (created.date().isoformat(), decision)
        counts[key] = counts.get(key, 0) + 1
    return sorted((day, decision, n) for (day, decision), n in counts.items())


def agreement(session: Session, *, tenant: str | None = None) -> dict[str, Any]:
    """How often reviewers agree with the model: a (model verdict x decision) table and the agreement rate
    over decisions that take a side (machine or human)."""
    rows = session.execute(select(VerdictRow.verdict, ReviewDecision.decision, func.count())
                           .join(VerdictRow, VerdictRow.id == ReviewDecision.verdict_id)
                           .where(active_decision(), tenant_scope(tenant))
                           .group_by(VerdictRow.verdict, ReviewDecision.decision)).all()
    table = [{"model": v, "reviewer": d, "count": int(n)} for v, d, n in rows]
    sided = [r for r in table if r["reviewer"] in ("machine", "human") and r["model"] in ("machine", "human")]
    total = sum(r["count"] for r in sided)
    agree = sum(r["count"] for r in sided if r["model"] == r["reviewer"])
    return {"table": table, "decisions": sum(r["count"] for r in table), "sided": total,
            "agreement": (agree / total) if total else None}


def reviewer_agreement(session: Session, *, tenant: str | None = None) -> dict[str, Any]:
    """How often two reviewers agree on the same item (overlap sampling, settled escalations): over items with
    active machine / human / misuse decisions by two different reviewers (the first two such decisions), the
    raw agreement and Cohen's kappa (agreement corrected for what the two label distributions would give by
    chance; None when chance agreement is total, e.g. both always said "machine"). The pairs are
    (first decision, second decision) in time order."""
    rows = session.execute(select(ReviewDecision.verdict_id, ReviewDecision.reviewer, ReviewDecision.decision)
                           .join(VerdictRow, VerdictRow.id == ReviewDecision.verdict_id)
                           .where(ReviewDecision.decision.in_(SIDED_DECISIONS), active_decision(),
                                  tenant_scope(tenant))
                           .order_by(ReviewDecision.verdict_id, ReviewDecision.created_at, ReviewDecision.id))
    firsts: dict[int, tuple[str, str]] = {}
    pairs: list[tuple[str, str]] = []
    paired: set[int] = set()
    for verdict_id, reviewer, decision in rows:
        if verdict_id in paired:
            continue
        first = firsts.get(verdict_id)
        if first is None:
            firsts[verdict_id] = (reviewer, decision)
        elif first[0] != reviewer:
            pairs.append((first[1], decision))
            paired.add(verdict_id)
    return pair_agreement(pairs)


def pair_agreement(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Raw agreement and Cohen's kappa of (first, second) label pairs, with the pair table."""
    n = len(pairs)
    counts: dict[tuple[str, str], int] = {}
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    table = [{"first": a, "second": b, "count": c} for (a, b), c in sorted(counts.items())]
    if not n:
        return {"items": 0, "agreement": None, "kappa": None, "table": table}
    observed = sum(1 for a, b in pairs if a == b) / n
    labels = {label for pair in pairs for label in pair}
    chance = sum((sum(1 for a, _ in pairs if a == label) / n) * (sum(1 for _, b in pairs if b == label) / n)
                 for label in labels)
    kappa = None if chance >= 1.0 else (observed - chance) / (1.0 - chance)
    return {"items": n, "agreement": observed, "kappa": kappa, "table": table}


def retrain_labels(session: Session) -> dict[str, Any]:
    """How many labels the next ``detect retrain --from-reviews`` would use (machine/human decisions on documents
    whose raw text was kept; disagreements left out), with the counts it would refuse or leave out."""
    from provenance.review.labels import review_labels

    return review_labels(session).summary()


def last_promotion(settings: Any) -> dict[str, Any] | None:
    """The last ``detect promote`` (or rollback): which bundle, from which, and the before/after numbers."""
    from provenance.bundles import last_promotion as last

    return last(settings)


def review_counts(session: Session, *, tenant: str | None = None) -> dict[str, int]:
    """All verdicts, open queue, escalated and decided, in one scan instead of four counts; ``overlap``: decided
    once and waiting in the open queue for a second reviewer (counted in ``open`` too)."""
    needs = VerdictRow.needs_review.is_(True)
    overlap = VerdictRow.review_status == STATUS_OVERLAP
    row = session.execute(select(
        func.count(), func.sum(case((needs & (VerdictRow.review_status.is_(None) | overlap), 1), else_=0)),
        func.sum(case((VerdictRow.review_status == STATUS_ESCALATED, 1), else_=0)),
        func.sum(case((VerdictRow.review_status == STATUS_DECIDED, 1), else_=0)),
        func.sum(case((needs & overlap, 1), else_=0))).where(tenant_scope(tenant))).one()
    return {"verdicts": int(row[0] or 0), "open": int(row[1] or 0), "escalated": int(row[2] or 0),
            "decided": int(row[3] or 0), "overlap": int(row[4] or 0)}
