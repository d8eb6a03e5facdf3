"""One item as the dashboard shows it: the verdict, the redacted text, its manifest and decisions, ledger
matches, and the session helpers the dashboard opens the store with."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from provenance.review.common import (
    tenant_scope,
)
from provenance.store.models import (
    Document,
    Manifest,
    ReviewDecision,
    VerdictRow,
)


@dataclass
class ItemDetail:
    verdict: VerdictRow
    text: str
    source_id: str | None
    content_hash: str
    manifest: dict[str, Any] | None
    decisions: list[ReviewDecision] = field(default_factory=list)
    manifest_id: str | None = None  # the ledger match this reader may see (a tenant's: only its own ledger's)


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
    decisions = list(session.scalars(select(ReviewDecision).where(ReviewDecision.verdict_id == verdict_id,
                                                                  ReviewDecision.superseded_at.is_(None))
                                     .order_by(ReviewDecision.created_at)))
    return ItemDetail(verdict, document.redacted_text or "", source_id, document.content_hash, manifest, decisions,
                      manifest_id)


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
