"""Read-only lookups: manifests (ledger), verdicts (scan results) and the manifest-signing public key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.api.auth import require_scope
from provenance.api.common import finite, reading_tenant, services_of
from provenance.api.errors import ApiError
from provenance.api.schemas import ERROR_RESPONSES
from provenance.apikeys import ApiKeyInfo
from provenance.signals.views import flat_view, order
from provenance.store.models import Document, JobItem, Manifest, ScanJob, VerdictRow
from provenance.tenant_view import own_manifest_id, own_review, own_source_id

TENANT_QUERY = Query(None, description="platform-admin keys only: read this tenant's records (audited).")

router = APIRouter(prefix="/v1", tags=["records"])
RECORD_KEYS = ("id", "tenant", "job_id", "bundle_version", "verdict", "p_machine", "margin", "detectors", "reasons",
               "num_tokens", "watermark", "watermarked", "ledger_manifest_id", "pii", "pii_count", "toxicity",
               "p_toxic", "misuse", "needs_review", "review_status", "created_at", "signals", "versions",
               "document")  # the contract object's keys, in order


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


@router.get("/manifests/{manifest_id}", responses=ERROR_RESPONSES, summary="A ledger manifest and its signature")
async def get_manifest(manifest_id: str, request: Request, tenant: str | None = TENANT_QUERY,
                       key: ApiKeyInfo = Depends(require_scope("verify"))) -> JSONResponse:
    services = services_of(request)
    owner = reading_tenant(services, key, tenant)
    with Session(services.engine) as session:
        row = session.get(Manifest, manifest_id[:64])
        if row is None or row.tenant != owner:  # another tenant's manifest reads exactly like a missing one
            raise ApiError(404, f"no manifest {manifest_id!r} in the ledger")
        body = dict(row.body)
    from generator.stamping import verify_manifest

    valid, reason = verify_manifest(body, services.public_key)
    return JSONResponse({"manifest_id": row.id, "tenant": owner, "manifest": body, "signature_valid": valid,
                         "signature_reason": reason, "recorded_at": _iso(row.created_at)})


def _tenant_has_document(session: Session, tenant: str, document_id: int) -> bool:
    """A tenant may read a document's verdict when one of its own jobs contains the document."""
    return session.scalar(
        select(JobItem.id).join(ScanJob, ScanJob.id == JobItem.job_id)
        .where(JobItem.document_id == document_id, ScanJob.tenant == tenant).limit(1)) is not None


@router.get("/verdicts/{verdict_id}", responses=ERROR_RESPONSES, summary="A scan verdict and its document")
async def get_verdict(verdict_id: int, request: Request, tenant: str | None = TENANT_QUERY,
                      key: ApiKeyInfo = Depends(require_scope("scan"))) -> JSONResponse:
    services = services_of(request)
    owner = reading_tenant(services, key, tenant)
    if not 0 < verdict_id < 2**63:
        raise ApiError(404, f"no verdict {verdict_id}")
    with Session(services.engine) as session:
        verdict = session.get(VerdictRow, verdict_id)
        if verdict is None or not _tenant_has_document(session, owner, verdict.document_id):
            raise ApiError(404, f"no verdict {verdict_id}")
        document = session.get(Document, verdict.document_id)
        job_tenant = session.scalar(select(ScanJob.tenant).where(ScanJob.id == verdict.job_id))
        own_job = verdict.job_id if job_tenant == owner else None
        # The scan matched the whole ledger; a match in another tenant's ledger is not this reader's to see,
        # and neither is what that match did to the review flags (recomputed with the reader's ledger).
        manifest_id = own_manifest_id(session, owner, verdict)
        stored = dict(verdict.signals or {})
        if manifest_id is None:
            stored["provenance"] = None
        flat, others = flat_view(stored, "api")
        needs_review, _priority = own_review(verdict, manifest_id is not None)
        record = order({
            "id": verdict.id, "tenant": owner,
            # Documents are shared by content: the job that first scored it may be another tenant's.
            "job_id": own_job, "bundle_version": verdict.bundle_version, **flat, "misuse": verdict.misuse,
            "needs_review": needs_review, "review_status": verdict.review_status,
            "created_at": _iso(verdict.created_at),
            "signals": others, "versions": verdict.versions or {},
            "document": None if document is None else {
                "id": document.id, "content_hash": document.content_hash,
                # The record id *this* tenant submitted (job_items), never the first submitter's.
                "source_id": own_source_id(session, owner, document.id, own_job),
                "num_chars": document.num_chars, "redacted_text": document.redacted_text},
        }, RECORD_KEYS)
    return JSONResponse(finite(record))


@router.get("/keys/public", response_class=PlainTextResponse, tags=["keys"],
            summary="The Ed25519 public key (PEM) for verifying manifests offline")
async def public_key(request: Request) -> PlainTextResponse:
    return PlainTextResponse(services_of(request).public_key_pem, media_type="application/x-pem-file")
