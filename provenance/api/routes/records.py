"""Read-only lookups: manifests (ledger), verdicts (scan results) and the manifest-signing public key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.orm import Session

from provenance.api.auth import require_scope
from provenance.api.common import finite, services_of
from provenance.api.errors import ApiError
from provenance.api.schemas import ERROR_RESPONSES
from provenance.apikeys import ApiKeyInfo
from provenance.store.models import Document, Manifest, Verdict

router = APIRouter(prefix="/v1", tags=["records"])


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


@router.get("/manifests/{manifest_id}", responses=ERROR_RESPONSES, summary="A ledger manifest and its signature")
async def get_manifest(manifest_id: str, request: Request,
                       _key: ApiKeyInfo = Depends(require_scope("verify"))) -> JSONResponse:
    services = services_of(request)
    with Session(services.engine) as session:
        row = session.get(Manifest, manifest_id[:64])
        if row is None:
            raise ApiError(404, f"no manifest {manifest_id!r} in the ledger")
        body = dict(row.body)
    from generator.stamping import verify_manifest

    valid, reason = verify_manifest(body, services.public_key)
    return JSONResponse({"manifest_id": row.id, "manifest": body, "signature_valid": valid,
                         "signature_reason": reason, "recorded_at": _iso(row.created_at)})


@router.get("/verdicts/{verdict_id}", responses=ERROR_RESPONSES, summary="A scan verdict and its document")
async def get_verdict(verdict_id: int, request: Request,
                      _key: ApiKeyInfo = Depends(require_scope("scan"))) -> JSONResponse:
    services = services_of(request)
    if not 0 < verdict_id < 2**63:
        raise ApiError(404, f"no verdict {verdict_id}")
    with Session(services.engine) as session:
        verdict = session.get(Verdict, verdict_id)
        if verdict is None:
            raise ApiError(404, f"no verdict {verdict_id}")
        document = session.get(Document, verdict.document_id)
        record = {
            "id": verdict.id, "job_id": verdict.job_id, "bundle_version": verdict.bundle_version,
            "verdict": verdict.verdict, "p_machine": verdict.p_machine, "margin": verdict.margin,
            "detectors": verdict.detectors, "reasons": verdict.reasons, "num_tokens": verdict.num_tokens,
            "watermark": verdict.watermark, "watermarked": verdict.watermarked,
            "ledger_manifest_id": verdict.ledger_manifest_id, "pii": verdict.pii, "pii_count": verdict.pii_count,
            "toxicity": verdict.toxicity, "p_toxic": verdict.p_toxic, "misuse": verdict.misuse,
            "needs_review": verdict.needs_review, "review_status": verdict.review_status,
            "created_at": _iso(verdict.created_at),
            "document": None if document is None else {
                "id": document.id, "content_hash": document.content_hash, "source_id": document.source_id,
                "num_chars": document.num_chars, "redacted_text": document.redacted_text},
        }
    return JSONResponse(finite(record))


@router.get("/keys/public", response_class=PlainTextResponse, tags=["keys"],
            summary="The Ed25519 public key (PEM) for verifying manifests offline")
async def public_key(request: Request) -> PlainTextResponse:
    return PlainTextResponse(services_of(request).public_key_pem, media_type="application/x-pem-file")
