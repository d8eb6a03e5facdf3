"""One error shape for every failure: ``{"error": code, "message": text}`` with a 4xx status (5xx only for
genuine server faults, which say nothing about internals). Clients can branch on ``error``; people read
``message``. Validation errors add ``details`` (field locations and reasons, never the submitted values, so a
rejected request can never echo a text or a secret back)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from provenance.errors import ProvenanceError

log = logging.getLogger("provenance.api")

STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
                422: "invalid_request", 429: "rate_limited", 503: "unavailable"}


class ApiError(Exception):
    """Raised by handlers and dependencies; becomes a JSON error response."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message
        self.headers = headers or {}


def error_response(status: int, message: str, code: str | None = None, *, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    body = {"error": code or STATUS_CODES.get(status, "error"), "message": message, **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def _location(loc: Any) -> str:
    return ".".join(str(part) for part in loc) if isinstance(loc, list | tuple) else str(loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, headers=exc.headers)

    @app.exception_handler(ProvenanceError)
    async def _provenance_error(_request: Request, exc: ProvenanceError) -> JSONResponse:
        hint = getattr(exc, "hint", None)
        return error_response(400, str(exc), "bad_request", **({"hint": hint} if hint else {}))

    from detect.errors import DetectionError
    from generator.errors import GeneratorError
    from watermark.errors import WatermarkError

    @app.exception_handler(GeneratorError)
    @app.exception_handler(WatermarkError)
    @app.exception_handler(DetectionError)
    async def _library_error(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(400, str(exc), "bad_request")

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": _location(error.get("loc", ())), "msg": error.get("msg", "invalid"),
                    "type": error.get("type", "")} for error in exc.errors()]
        first = details[0] if details else {"loc": "body", "msg": "invalid request"}
        return error_response(422, f"{first['loc']}: {first['msg']}", "invalid_request", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server log (request path only: no headers, no body, so no secrets).
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal server error (details are in the server log)", "internal_error")
