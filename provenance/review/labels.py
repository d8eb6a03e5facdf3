"""Review decisions as labelled detection data (``provenance reviews export``) and the latest decision per
document (``verdicts export``'s ``decision``).

Only ``machine`` and ``human`` decisions are labels: ``misuse`` says nothing about who wrote a text and
``escalate`` is not a decision yet. Decisions are per verdict, and a document can have several verdicts (one
per bundle version), so labels are gathered per *document*, each reviewer's latest decision counting once.
When reviewers disagree on a document, it is reported and left out, never resolved by a vote: the label is
what the detector will learn from, and a coin-flip label teaches noise.

The raw text exists only when the store kept it (``PROVENANCE_STORE_RAW_TEXT``). Otherwise the record carries
the redacted text with a note: fine to read, not fit to train on (placeholders change every statistic), so
``detect retrain`` refuses such records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from provenance.store.models import Document, JobItem, ReviewDecision, ScanJob, VerdictRow

LABEL_DECISIONS = ("machine", "human")
REVIEW_DOMAIN = "reviewed"
REDACTED_NOTE = "redacted text: the raw text was not kept (set PROVENANCE_STORE_RAW_TEXT=1 before scanning)"


@dataclass
class ReviewLabels:
    records: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    @property
    def trainable(self) -> list[dict[str, Any]]:
        return [record for record in self.records if record["text_kept"]]

    def summary(self) -> dict[str, Any]:
        labels = [record["label"] for record in self.records]
        return {"records": len(self.records), "machine": labels.count("machine"), "human": labels.count("human"),
                "text_kept": len(self.trainable), "redacted_only": len(self.records) - len(self.trainable),
                "disagreements": len(self.disagreements)}


def review_labels(session: Session, *, since: datetime | None = None, job_id: str | None = None) -> ReviewLabels:
    """One record per reviewed document (see module docstring), oldest decision first."""
    conditions: list[Any] = [ReviewDecision.decision.in_(LABEL_DECISIONS),
                             ReviewDecision.superseded_at.is_(None)]  # undone or changed: not a label
    if since is not None:
        conditions.append(ReviewDecision.created_at >= since)
    if job_id is not None:
        # the job's documents (its input records) and verdicts its workers wrote
        conditions.append(or_(VerdictRow.job_id == job_id,
                              VerdictRow.document_id.in_(select(JobItem.document_id).where(JobItem.job_id == job_id))))
    rows = session.execute(
        select(ReviewDecision.id, ReviewDecision.reviewer, ReviewDecision.decision, ReviewDecision.created_at,
               VerdictRow.document_id, VerdictRow.bundle_version, VerdictRow.job_id)
        .join(VerdictRow, VerdictRow.id == ReviewDecision.verdict_id)
        .where(*conditions).order_by(ReviewDecision.created_at, ReviewDecision.id)).all()
    latest: dict[int, dict[str, Any]] = {}  # document -> reviewer -> latest row
    for row in rows:
        latest.setdefault(row.document_id, {})[row.reviewer] = row
    documents = {doc.id: doc for doc in session.scalars(select(Document).where(Document.id.in_(list(latest))))}
    result = ReviewLabels()
    for document_id, by_reviewer in latest.items():
        decisions = sorted(by_reviewer.values(), key=lambda r: (r.created_at, r.id))
        labels = {r.decision for r in decisions}
        if len(labels) > 1:
            result.disagreements.append({
                "document_id": document_id,
                "decisions": [{"reviewer": r.reviewer, "decision": r.decision, "decision_id": r.id,
                               "at": r.created_at.isoformat(timespec="seconds")} for r in decisions]})
            continue
        last = decisions[-1]
        document = documents[document_id]
        kept = document.raw_text is not None
        record = {"text": document.raw_text if kept else (document.redacted_text or ""), "label": last.decision,
                  "domain": REVIEW_DOMAIN, "source": "review", "decision_id": last.id, "reviewer": last.reviewer,
                  "bundle_version": last.bundle_version, "document_id": document_id, "job_id": last.job_id,
                  "reviewers": [r.reviewer for r in decisions], "text_kept": kept}
        if not kept:
            record["note"] = REDACTED_NOTE
        result.records.append(record)
    result.records.sort(key=lambda record: record["decision_id"])
    return result


def check_job(session: Session, job_id: str | None) -> None:
    from provenance.errors import ProvenanceError

    if job_id is not None and session.get(ScanJob, job_id) is None:
        raise ProvenanceError(f"no scan job {job_id!r}", hint="list jobs with provenance jobs list")


def latest_decisions(session: Session, document_ids: Sequence[int]) -> dict[int, str]:
    """The latest review decision of each document (any verdict of it, any reviewer)."""
    if not document_ids:
        return {}
    rows = session.execute(select(VerdictRow.document_id, ReviewDecision.decision)
                           .join(VerdictRow, VerdictRow.id == ReviewDecision.verdict_id)
                           .where(VerdictRow.document_id.in_(list(document_ids)),
                                  ReviewDecision.superseded_at.is_(None))  # undone or changed: not the decision
                           .order_by(ReviewDecision.created_at, ReviewDecision.id)).all()
    return {document_id: decision for document_id, decision in rows}
