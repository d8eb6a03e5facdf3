"""The FastAPI application factory. ``create_app()`` reads settings from the environment, so uvicorn's
``--factory`` mode (and ``provenance serve --workers N``) builds one independent app per worker process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from provenance.api.docs import install_offline_docs
from provenance.api.errors import install_error_handlers
from provenance.api.middleware import LimitsAndMetrics
from provenance.api.routes import generate, health, records, results, scan, verify
from provenance.api.services import ApiServices
from provenance.settings import Settings

log = logging.getLogger("provenance.api")

DESCRIPTION = """Did our generator write this text? Watermark detection (model-free, exact binomial p-values),
the signed-manifest ledger (exact and near-duplicate matches), watermarked generation and scans.

Authenticate with `Authorization: Bearer <key>` (create keys with `provenance apikey create`). Errors are JSON
`{"error": code, "message": text}`; 429 responses carry `Retry-After`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    services = ApiServices(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(services.load_watermark)  # tokenizer and keys once, before the first request
        try:
            yield
        finally:
            services.close()  # drains the audit queue

    # docs_url/redoc_url off: FastAPI's own pages load their assets from a CDN; ours come from a package.
    app = FastAPI(title="GPT-2 Provenance API", version="1", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.services = services
    install_offline_docs(app)
    install_error_handlers(app)
    for router in (verify.router, generate.router, scan.router, results.router, records.router, health.router):
        app.include_router(router)
    if settings.api_cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.api_cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)
    app.add_middleware(LimitsAndMetrics, max_body_bytes=settings.api_max_body_bytes, metrics=services.metrics)
    return app
