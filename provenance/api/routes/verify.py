"""``POST /v1/verify`` and ``/v1/verify/batch``: watermark test, ledger lookup and (optionally) the ensemble.

A single text of ordinary length is checked inline on the event loop: a millisecond or two of CPU (tokenizer +
numpy) plus two indexed SQLite reads, where a thread-pool hop would cost more than it saves. Batches, windowed
searches and long texts go to the thread pool so they never stall other requests. The ensemble (``detect: true``)
loads and runs the scorer LM, so it goes to the thread pool; when no detector bundle is installed, ``detection``
says so (``verdict: null`` and ``error``) and the rest of the answer stands.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from generator.stamping import text_sha256
from provenance.api.auth import require_scope
from provenance.api.common import actor, check_batch, check_text, finite, services_of
from provenance.api.schemas import (
    ERROR_RESPONSES,
    VerifyBatchRequest,
    VerifyBatchResponse,
    VerifyRequest,
    VerifyResponse,
)
from provenance.api.services import ApiServices
from provenance.apikeys import ApiKeyInfo

router = APIRouter(prefix="/v1", tags=["verify"])
INLINE_MAX_CHARS = 20_000


def _ensemble(services: ApiServices, texts: list[str]) -> list[dict[str, Any]]:
    from detect.errors import DetectionError
    from provenance.detection import verdict_record

    try:
        judged = services.detection.judge(texts)
    except DetectionError as exc:  # watermark and ledger answers stand on their own: report, do not fail
        hint = f" ({exc.hint})" if getattr(exc, "hint", None) else ""
        return [{"verdict": None, "error": f"the detection ensemble is unavailable: {exc}{hint}"} for _ in texts]
    return [verdict_record(index, fields) for index, fields in enumerate(judged)]


async def verify_texts(services: ApiServices, key: ApiKeyInfo, texts: list[str], *, windowed: bool,
                       detect: bool, provenance: bool = True, fpr: float | None = None) -> list[dict[str, Any]]:
    watermark = services.watermark

    def check() -> tuple[list[dict[str, Any]], list[dict[str, Any] | None]]:
        marks = [finite(watermark.check(text, windowed, fpr)) for text in texts]
        found = (services.provenance.lookup(texts, tenant=key.tenant) if provenance else [None] * len(texts))
        return marks, list(found)

    if len(texts) == 1 and not windowed and len(texts[0]) <= INLINE_MAX_CHARS:
        marks, ledger = check()  # about a millisecond: cheaper inline than a thread hop
    else:  # batches, window searches and long texts must not stall the event loop
        marks, ledger = await run_in_threadpool(check)
    verdicts = await run_in_threadpool(_ensemble, services, texts) if detect else [None] * len(texts)
    results = []
    for text, mark, found, verdict in zip(texts, marks, ledger, verdicts, strict=True):
        result: dict[str, Any] = {"watermark": mark, "provenance": found}
        if verdict is not None:
            verdict.pop("id", None)
            result["detection"] = verdict
        results.append(result)
        services.metrics.texts_verified.labels(str(bool(mark.get("watermarked"))).lower()).inc()
        services.audit.record(actor=actor(key), action="verify", subject_type="text",
                              subject_id=found["text_sha256"] if found else text_sha256(text),
                              details={"watermarked": bool(mark.get("watermarked")), "p_value": mark.get("p_value"),
                                       "key_id": mark.get("key_id"), "manifest_id": found and found["manifest_id"],
                                       "near_duplicates": [d["manifest_id"] for d in found["near_duplicates"]]
                                       if found else None,
                                       "windowed": windowed, "detect": detect,
                                       "verdict": verdict.get("verdict") if verdict else None})
    return results


@router.post("/verify", response_model=VerifyResponse, responses=ERROR_RESPONSES,
             summary="Was this text written by our generator?")
async def verify(body: VerifyRequest, request: Request,
                 key: ApiKeyInfo = Depends(require_scope("verify"))) -> JSONResponse:
    services = services_of(request)
    check_text(services, body.text)
    results = await verify_texts(services, key, [body.text], windowed=body.windowed, detect=body.detect,
                                 provenance=body.provenance, fpr=body.fpr)
    return JSONResponse(results[0])


@router.post("/verify/batch", response_model=VerifyBatchResponse, responses=ERROR_RESPONSES,
             summary="Verify up to api_max_batch texts in one request")
async def verify_batch(body: VerifyBatchRequest, request: Request,
                       key: ApiKeyInfo = Depends(require_scope("verify"))) -> JSONResponse:
    services = services_of(request)
    check_batch(services, len(body.texts))
    for index, text in enumerate(body.texts):
        check_text(services, text, f"texts[{index}]")
    results = await verify_texts(services, key, body.texts, windowed=body.windowed, detect=body.detect,
                                 provenance=body.provenance, fpr=body.fpr)
    return JSONResponse({"results": results})
