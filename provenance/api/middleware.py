"""A pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware) that enforces the request-body limit
and records request counts and latencies per route template (``/v1/jobs/{job_id}``, never raw paths, so
metric cardinality stays bounded)."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.exceptions import HTTPException

from provenance.api.metrics import ApiMetrics

Scope = dict[str, Any]


class BodyTooLarge(HTTPException):
    """An HTTPException, so FastAPI's body reader re-raises it (as 413) instead of calling it a parse error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds the limit of {limit} bytes")


async def _send_error(send: Any, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class LimitsAndMetrics:
    def __init__(self, app: Any, *, max_body_bytes: int, metrics: ApiMetrics) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = [500]
        limit = self.max_body_bytes
        too_large = f"request body exceeds the limit of {limit} bytes"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await _send_error(send, 413, "payload_too_large", too_large)
                    self._observe(scope, 413, started)
                    return
        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started_response = [False]

        async def tracking_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                started_response[0] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started_response[0]:
                await _send_error(send, 413, "payload_too_large", too_large)
            status_holder[0] = 413
        finally:
            self._observe(scope, status_holder[0], started)

    def _observe(self, scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.requests.labels(template, scope.get("method", ""), str(status)).inc()
        self.metrics.latency.labels(template).observe(time.perf_counter() - started)
