"""``POST /v1/generate``: watermarked text plus its signed manifest, written to the ledger.

Generated tokens are limited per key by a token bucket: the request reserves ``max_new_tokens`` (or the whole
bucket, when it asks for more than a minute's allowance) before generating, and the difference to the tokens
actually generated is settled afterwards (refunded, or charged as debt for an oversized request).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from generator import SamplingConfig
from generator.errors import GeneratorError
from generator.stamping import sha256_hex
from provenance.api.auth import require_scope
from provenance.api.common import actor, check_text, services_of
from provenance.api.errors import ApiError
from provenance.api.schemas import ERROR_RESPONSES, GenerateRequest, GenerateResponse
from provenance.api.services import ApiServices
from provenance.apikeys import ApiKeyInfo
from provenance.errors import ProvenanceError
from provenance.store.audit import audit
from provenance.store.engine import session_scope
from provenance.store.ledger import record_manifest

router = APIRouter(prefix="/v1", tags=["generate"])


def _sampling(body: GenerateRequest) -> SamplingConfig:
    sampling = SamplingConfig(max_new_tokens=body.max_new_tokens, min_new_tokens=body.min_new_tokens,
                              temperature=body.temperature, top_k=body.top_k or None, top_p=body.top_p,
                              do_sample=not body.greedy, seed=body.seed, repetition_penalty=body.repetition_penalty)
    try:
        sampling.validate()
    except GeneratorError as exc:
        raise ApiError(422, str(exc)) from None
    return sampling


def _generate(services: ApiServices, key: ApiKeyInfo, body: GenerateRequest, sampling: SamplingConfig) -> Any:
    from provenance.stamped_generation import generate_stamped

    try:
        lm = services.language_model()
    except (GeneratorError, ProvenanceError) as exc:  # no model on this server: its problem, not the request's
        raise ApiError(503, f"the generator model is unavailable: {exc}") from None
    events: list[dict[str, Any]] = []  # toxicity screening: withheld / regenerated samples (hashes, scores)
    with services.generate_lock:
        try:
            stamped = generate_stamped(services.settings, lm, [body.prompt], sampling, requester=f"api:{key.id}",
                                       on_withheld=events.append)[0]
        except GeneratorError as exc:
            raise ApiError(400, f"generation failed: {exc}") from None
    return stamped, events


def _record(services: ApiServices, key: ApiKeyInfo, body: GenerateRequest, stamped: Any,
            events: list[dict[str, Any]]) -> None:
    """The manifest and its audit row commit together: a generation is never handed out unrecorded."""
    manifest = stamped.manifest
    with session_scope(services.url) as session:
        record_manifest(session, manifest, tenant=key.tenant)
        audit(session, actor=actor(key), action="generate", subject_type="manifest", subject_id=manifest["id"],
              details={"text_sha256": manifest.get("text_sha256"), "prompt_sha256": sha256_hex(body.prompt),
                       "tokens": stamped.generation.tokens, "withheld": getattr(stamped, "withheld", None),
                       "outcome": "withheld" if getattr(stamped, "withheld", None) else "generated"})
        for event in events:
            audit(session, actor=actor(key), action=f"generate.{event.get('action', 'screened')}",
                  subject_type="manifest", subject_id=manifest["id"], details=event)


@router.post("/generate", response_model=GenerateResponse, responses=ERROR_RESPONSES,
             summary="Generate watermarked text with a signed manifest")
async def generate(body: GenerateRequest, request: Request,
                   key: ApiKeyInfo = Depends(require_scope("generate"))) -> JSONResponse:
    services = services_of(request)
    check_text(services, body.prompt, "prompt")
    sampling = _sampling(body)
    per_minute = key.tokens_per_minute or services.settings.default_tokens_per_minute
    reserved = min(body.max_new_tokens, per_minute)
    decision = services.limiter.take(key.id, "tokens", reserved, per_minute)
    if not decision.allowed:
        services.metrics.rate_limited.labels("tokens").inc()
        raise ApiError(429, f"generated-token limit of {per_minute} per minute exceeded for this key "
                       f"(this request reserves {reserved})", headers={"Retry-After": decision.retry_after_header})
    try:
        stamped, events = await run_in_threadpool(_generate, services, key, body, sampling)
    except BaseException:
        services.limiter.adjust(key.id, "tokens", reserved, per_minute)
        raise
    used = stamped.generation.tokens
    if used != reserved:
        services.limiter.adjust(key.id, "tokens", reserved - used, per_minute)
    services.metrics.tokens_generated.inc(used)
    await run_in_threadpool(_record, services, key, body, stamped, events)
    withheld = getattr(stamped, "withheld", None)
    toxicity = getattr(stamped, "toxicity", None)
    generation = stamped.generation
    return JSONResponse({"text": None if withheld else generation.text, "prompt": generation.prompt,
                         "tokens": used, "finish_reason": generation.finish_reason, "watermark": stamped.watermark,
                         "manifest": stamped.manifest, "toxicity": jsonable_encoder(toxicity), "withheld": withheld,
                         "regenerations": getattr(stamped, "regenerations", None)})
