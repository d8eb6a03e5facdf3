"""The append-only audit log: one call, inside the caller's transaction, so the action and its record commit
together or not at all."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from provenance.store.models import AuditLog


def audit(session: Session, *, actor: str, action: str, subject_type: str | None = None,
          subject_id: Any = None, details: dict[str, Any] | None = None) -> AuditLog:
    """Record an action. Never pass raw text or secrets in ``details``: hashes and ids only."""
    row = AuditLog(actor=actor, action=action, subject_type=subject_type,
                   subject_id=None if subject_id is None else str(subject_id), details=dict(details or {}))
    session.add(row)
    return row
