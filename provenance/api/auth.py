"""Bearer-token authentication, scopes and the per-key request limit, as one FastAPI dependency.

Verified keys are cached in each process for ``KEY_CACHE_SECONDS`` (5 s), so the hot path does not query the
database per request; a revoked key therefore stops working within 5 seconds in every process. Unknown keys
are cached too (briefly, in a bounded map), so a client hammering with a wrong key does not hammer the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable

from fastapi import Request

from provenance.api.errors import ApiError
from provenance.apikeys import ApiKeyInfo, hash_key, verify_api_key

KEY_CACHE_SECONDS = 5.0
KEY_CACHE_MAX = 10_000
BEARER_HEADERS = {"WWW-Authenticate": "Bearer"}


class KeyCache:
    """key hash -> (ApiKeyInfo or None, expiry). Holds hashes, never keys."""

    def __init__(self, url: str, ttl: float = KEY_CACHE_SECONDS) -> None:
        self.url = url
        self.ttl = ttl
        self._entries: dict[str, tuple[ApiKeyInfo | None, float]] = {}
        self._lock = threading.Lock()

    def lookup(self, key: str) -> ApiKeyInfo | None:
        digest = hash_key(key)
        now = time.monotonic()
        entry = self._entries.get(digest)
        if entry is not None and entry[1] > now:
            return entry[0]
        info = verify_api_key(self.url, key)
        with self._lock:
            if len(self._entries) >= KEY_CACHE_MAX:
                self._entries.clear()
            self._entries[digest] = (info, now + self.ttl)
        return info

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(401, "missing API key: send the header Authorization: Bearer <key>", headers=BEARER_HEADERS)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "malformed Authorization header: expected Bearer <key>", headers=BEARER_HEADERS)
    return token


def require_scope(scope: str) -> Callable[[Request], Awaitable[ApiKeyInfo]]:
    """A dependency: a valid, unrevoked key with ``scope`` (admin implies all) and room in its request bucket."""

    async def dependency(request: Request) -> ApiKeyInfo:
        services = request.app.state.services
        info = services.keys.lookup(bearer_token(request))
        if info is None:
            raise ApiError(401, "invalid or revoked API key", headers=BEARER_HEADERS)
        if not info.allows(scope):
            raise ApiError(403, f"this API key lacks the '{scope}' scope")
        request.state.api_key_id = info.id
        per_minute = info.requests_per_minute or services.settings.default_requests_per_minute
        decision = services.limiter.take(info.id, "requests", 1, per_minute)
        if not decision.allowed:
            services.metrics.rate_limited.labels("requests").inc()
            raise ApiError(429, f"request rate limit of {per_minute} per minute exceeded for this key",
                           headers={"Retry-After": decision.retry_after_header})
        return info

    dependency.__name__ = f"require_{scope}"
    return dependency
