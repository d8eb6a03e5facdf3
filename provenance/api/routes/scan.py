"""``POST /v1/scan`` (texts, or a server-side path with the admin scope) and ``GET /v1/jobs/{job_id}``.

Scans go through the pipeline (``provenance.pipeline``): the texts are staged and enqueued, and the response
carries the job id at once; the job's progress and its verdicts are read back with the GET endpoints
(``routes/results.py``), and an optional ``callback_url`` is called when the job ends
(``provenance.pipeline.callbacks``).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from provenance.api.auth import require_scope
from provenance.api.common import actor, check_text, reading_tenant, services_of
from provenance.api.errors import ApiError
from provenance.api.schemas import ERROR_RESPONSES, JobResponse, ScanRequest, ScanResponse
from provenance.apikeys import ApiKeyInfo
from provenance.errors import ProvenanceError

router = APIRouter(prefix="/v1", tags=["scan"])
JOB_KEYS = ("job_id", "status", "total", "scored", "quarantined", "duplicates")


def _pipeline(module: str) -> Any:
    try:
        if module == "submission":
            from provenance.pipeline import submission

            return submission
        from provenance.pipeline import jobs

        return jobs
    except ImportError as exc:
        raise ApiError(503, f"the scan pipeline is not available: {exc}") from None


def _records(body: ScanRequest) -> list[dict[str, Any]]:
    if body.records is not None:
        return [{"id": record.id, "text": record.text} if record.id is not None else {"text": record.text}
                for record in body.records]
    return [{"id": index, "text": text} for index, text in enumerate(body.texts or [])]


def _submit_path_in_background(submission: Any, settings: Any, body: ScanRequest, tenant: str,
                               callback: dict[str, str] | None) -> str:
    """A dump can be large and submission applies back-pressure (it waits for workers), so it runs in its own
    thread; the request returns as soon as the job exists (or the path or options are refused)."""
    created: queue.Queue[tuple[str, Any]] = queue.Queue()

    from provenance.scan_roots import open_scan_files

    # Checked before any job exists; the files are then read through descriptors opened beneath the roots'
    # descriptors (never reopened by name), held until the submission ends.
    files = open_scan_files(body.path or "", settings.scan_roots, settings.home)

    def run() -> None:
        try:
            submission.submit_paths(settings, files.paths, format=body.format, text_field=body.text_field,
                                    id_field=body.id_field, on_job=lambda job_id: created.put(("job", job_id)),
                                    tenant=tenant, callback=callback)
        except Exception as exc:  # before the job exists: the request reports it; after: the job records it
            created.put(("error", exc))
        finally:
            files.close()

    threading.Thread(target=run, name="scan-submission", daemon=True).start()
    kind, value = created.get()
    if kind == "error":
        if isinstance(value, ProvenanceError):
            raise value
        raise ApiError(400, f"cannot scan {body.path}: {value.__class__.__name__}")
    return value


@router.post("/scan", response_model=ScanResponse, status_code=202, responses=ERROR_RESPONSES,
             summary="Scan texts (or a server-side path, admin only) through the pipeline")
async def scan(body: ScanRequest, request: Request, key: ApiKeyInfo = Depends(require_scope("scan"))) -> JSONResponse:
    services = services_of(request)
    given = [name for name in ("records", "texts", "path") if getattr(body, name) is not None]
    if len(given) != 1:
        raise ApiError(422, "give exactly one of records, texts or path")
    callback = _callback(body.callback_url)
    if body.path is not None:
        if not key.allows("admin"):
            raise ApiError(403, "scanning a server-side path needs the 'admin' scope")
        submission = _pipeline("submission")
        call = (_submit_path_in_background, submission, services.settings, body, key.tenant, callback)
        kwargs: dict[str, Any] = {}
        count: int | None = None
    else:
        records = _records(body)
        if not records:
            raise ApiError(422, "nothing to scan: records/texts is empty")
        for index, record in enumerate(records):
            check_text(services, record["text"], f"text {index}")
        submission = _pipeline("submission")
        call = (submission.submit_records, services.settings, records)
        kwargs = {"inputs": {"source": "api", "key_id": key.id, "records": len(records), "tenant": key.tenant},
                  "callback": callback}
        count = len(records)
    from provenance.scan_roots import ScanPathRefused

    try:
        job_id = await run_in_threadpool(call[0], *call[1:], **kwargs)
    except ScanPathRefused as exc:  # one message for every path; the precise reason is for the audit row
        services.audit.record(actor=actor(key), action="scan.path_refused", subject_type="path",
                              subject_id=None, details={"reason": exc.reason[:200]})
        raise ApiError(403, f"{exc} ({exc.hint})" if exc.hint else str(exc)) from None
    except ProvenanceError as exc:
        raise ApiError(400, str(exc)) from None
    services.audit.record(actor=actor(key), action="scan", subject_type="scan_job", subject_id=job_id,
                          details={"records": count, "path": body.path is not None,
                                   "callback_host": _host(callback)})
    response = {"job_id": job_id, "status_url": f"/v1/jobs/{job_id}", "verdicts_url": f"/v1/jobs/{job_id}/verdicts"}
    if callback is not None:
        response["callback_secret"] = callback["secret"]
    return JSONResponse(response, status_code=202)


def _callback(url: str | None) -> dict[str, str] | None:
    """The checked callback URL and a fresh secret; a refused URL is a 422 that says what is accepted."""
    if url is None:
        return None
    from provenance.pipeline.callbacks import new_callback

    try:
        return new_callback(url)
    except ProvenanceError as exc:
        raise ApiError(422, str(exc)) from None


def _host(callback: dict[str, str] | None) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(callback["url"]).hostname if callback else None


@router.get("/jobs/{job_id}", response_model=JobResponse, responses=ERROR_RESPONSES, summary="A scan job's progress")
async def job(job_id: str, request: Request,
              tenant: str | None = Query(None, description="platform-admin keys only: read this tenant's job "
                                                           "(audited)."),
              key: ApiKeyInfo = Depends(require_scope("scan"))) -> JSONResponse:
    services = services_of(request)
    owner = reading_tenant(services, key, tenant)
    jobs = _pipeline("jobs")
    try:
        summary = await run_in_threadpool(jobs.job_summary, services.settings, job_id[:64], tenant=owner)
    except ProvenanceError as exc:
        raise ApiError(404, str(exc)) from None
    return JSONResponse(summary)
