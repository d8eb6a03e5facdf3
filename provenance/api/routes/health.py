"""Liveness, readiness and Prometheus metrics (no API key: load balancers and scrapers call these)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from provenance.api.common import services_of

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Detector loaded and database reachable")
async def readyz(request: Request) -> JSONResponse:
    services = services_of(request)
    checks: dict[str, str] = {"watermark": "ok" if services.ready else (services.startup_error or "loading")}
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, never raise: readiness is a yes/no answer
        checks["database"] = exc.__class__.__name__
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                        status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics (text format)")
async def metrics(request: Request) -> Response:
    body, content_type = services_of(request).metrics.exposition()
    return Response(body, media_type=content_type)
