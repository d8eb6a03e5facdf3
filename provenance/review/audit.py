"""The audit history a reviewer can read and export (the log itself is written by ``provenance.store.audit``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from provenance.review.common import escape_like
from provenance.store.models import (
    AuditLog,
    ReviewDecision,
    Reviewer,
)

AUDIT_COLUMNS = ("id", "at", "actor", "action", "subject_type", "subject_id", "decision", "note", "details")
REVIEW_ACTION_PREFIX = "review."  # decisions and lease actions; generate/verify/scan rows outnumber them ~30:1


def review_actions(actions: Sequence[str]) -> list[str]:
    """The reviewers' own actions among ``actions`` (the audit page's default selection, so the review
    history is not drowned by the API's generate/verify rows)."""
    return [action for action in actions if action.startswith(REVIEW_ACTION_PREFIX)]


def audit_rows(session: Session, *, actor: str | None = None, action: str | None = None,
               subject_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
               limit: int = 1000, tenant: str | None = None, actions: Sequence[str] | None = None,
               actor_prefix: str | None = None) -> list[dict[str, Any]]:
    """Audit history newest first; review decisions carry their decision and note. For a tenant's reviewer
    (``tenant`` set): only rows whose actor is one of that tenant's accounts (the audit log has no tenant
    column; platform rows, API rows and unauthenticated sign-in attempts are the platform-admin's).
    ``actions``: any of these actions (an empty sequence matches nothing); ``actor_prefix``: actors whose name
    starts with it, matched literally (``%`` and ``_`` are escaped)."""
    conditions = []
    if tenant is not None:
        conditions.append(AuditLog.actor.in_(select(Reviewer.name).where(Reviewer.tenant == tenant)))
    if actor:
        conditions.append(AuditLog.actor == actor)
    if action:
        conditions.append(AuditLog.action == action)
    if actions is not None:
        conditions.append(AuditLog.action.in_(list(actions)))
    if actor_prefix:
        conditions.append(AuditLog.actor.ilike(escape_like(actor_prefix) + "%", escape="\\"))
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
