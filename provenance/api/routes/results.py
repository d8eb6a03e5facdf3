"""What a scan found, through the API alone: ``GET /v1/jobs/{job_id}/verdicts`` (keyset pages) and
``GET /v1/jobs/{job_id}/export`` (the whole job as JSONL or Parquet, streamed).

Both read the one page function ``verdicts export`` reads (``provenance.pipeline.export.job_verdict_page``), so
a record here is a line of that export: same keys, same values, except that a ledger match in another
tenant's ledger is withheld (as ``GET /v1/verdicts/{id}`` does). Both are tenant-scoped exactly like
``GET /v1/jobs/{id}``: another tenant's job reads like a missing one (404), a platform-admin key may name a
tenant (audited).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from provenance.api.auth import require_scope
from provenance.api.common import finite, reading_tenant, services_of
from provenance.api.errors import ApiError
from provenance.api.schemas import ERROR_RESPONSES, VerdictPageResponse
from provenance.apikeys import ApiKeyInfo
from provenance.errors import ProvenanceError

router = APIRouter(prefix="/v1", tags=["scan"])
TENANT_QUERY = Query(None, description="platform-admin keys only: read this tenant's job (audited).")
MAX_PAGE = 1000
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "parquet": "application/vnd.apache.parquet"}


def _cursor(value: str | None) -> int:
    """The opaque cursor is the input position of the last record read; "" or absent starts at the beginning."""
    if value in (None, ""):
        return -1
    if not value.isdigit() or len(value) > 18:
        raise ApiError(422, "cursor must be a next_cursor value from an earlier page")
    return int(value)


def _page(settings: Any, job_id: str, tenant: str, after: int, limit: int) -> dict[str, Any]:
    from provenance.pipeline.export import find_job, job_verdict_page
    from provenance.store import session_scope

    with session_scope(settings.resolved_database_url) as session:
        job = find_job(session, job_id, tenant)
        page = job_verdict_page(session, job, after, limit, tenant=tenant)
        ended = job.status in ("done", "failed")
        return {"job_id": job.id, "tenant": tenant, "status": job.status,
                "verdicts": [record for _seq, record in page.records],
                "next_cursor": str(page.cursor) if page.cursor >= 0 else "", "complete": ended and page.end}


@router.get("/jobs/{job_id}/verdicts", response_model=VerdictPageResponse, responses=ERROR_RESPONSES,
            summary="A scan job's verdicts, one keyset page at a time (records as `verdicts export`)")
async def job_verdicts(job_id: str, request: Request,
                       cursor: str | None = Query(None, description="next_cursor of the previous page; absent: "
                                                                    "from the first record."),
                       limit: int = Query(100, ge=1, le=MAX_PAGE, description="records per page"),
                       tenant: str | None = TENANT_QUERY,
                       key: ApiKeyInfo = Depends(require_scope("scan"))) -> JSONResponse:
    services = services_of(request)
    owner = reading_tenant(services, key, tenant)
    after = _cursor(cursor)
    try:
        page = await run_in_threadpool(_page, services.settings, job_id[:64], owner, after, limit)
    except ProvenanceError as exc:
        raise ApiError(404, str(exc)) from None
    return JSONResponse(finite(page))


@router.get("/jobs/{job_id}/export", responses={**ERROR_RESPONSES, 200: {"content": {
                "application/x-ndjson": {}, "application/vnd.apache.parquet": {}}}},
            summary="A scan job's verdicts as one JSONL or Parquet file, streamed")
async def job_export(job_id: str, request: Request,
                     format: Literal["jsonl", "parquet"] = Query("jsonl", description="jsonl or parquet"),
                     tenant: str | None = TENANT_QUERY,
                     key: ApiKeyInfo = Depends(require_scope("scan"))) -> StreamingResponse:
    from provenance.pipeline.export import find_job, iter_verdicts
    from provenance.pipeline.export_writers import jsonl_chunks, parquet_chunks
    from provenance.store import session_scope

    services = services_of(request)
    owner = reading_tenant(services, key, tenant)
    settings = services.settings

    def check() -> None:
        with session_scope(settings.resolved_database_url) as session:
            find_job(session, job_id[:64], owner)

    try:  # refused before the response starts: a streamed body can no longer change its status
        await run_in_threadpool(check)
    except ProvenanceError as exc:
        raise ApiError(404, str(exc)) from None
    records: Iterator[dict[str, Any]] = (finite(record) for record in
                                         iter_verdicts(settings, job_id[:64], tenant=owner))
    body = parquet_chunks(records) if format == "parquet" else jsonl_chunks(records)
    filename = f"{job_id[:64]}.{format}"
    return StreamingResponse(body, media_type=MEDIA_TYPES[format], headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "X-Provenance-Tenant": owner})
