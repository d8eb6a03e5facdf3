"""Small helpers shared by the routers: services access, limits, JSON-safe numbers, audit actor names."""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request

from provenance.api.errors import ApiError
from provenance.api.services import ApiServices
from provenance.apikeys import PLATFORM_ADMIN, ApiKeyInfo


def services_of(request: Request) -> ApiServices:
    return request.app.state.services


def actor(key: ApiKeyInfo) -> str:
    return f"apikey:{key.id}"


def reading_tenant(services: ApiServices, key: ApiKeyInfo, tenant: str | None) -> str:
    """Whose records a read may see: the key's own tenant, or with a ``platform-admin`` key an explicitly named
    one (that cross-tenant read is audited). A tenant's ``admin`` key administers its own tenant only. Any other
    key naming another tenant is refused without saying whether that tenant exists."""
    if tenant is None or tenant == key.tenant:
        return key.tenant
    if not key.allows(PLATFORM_ADMIN):
        raise ApiError(403, "reading another tenant's records needs the 'platform-admin' scope")
    from sqlalchemy.orm import Session

    from provenance.errors import ProvenanceError
    from provenance.tenants import require_tenant

    try:
        with Session(services.engine) as session:
            chosen = require_tenant(session, tenant)
    except ProvenanceError as exc:
        raise ApiError(404, str(exc)) from None
    services.audit.record(actor=actor(key), action="tenant.cross_read", subject_type="tenant", subject_id=chosen,
                          details={"key_tenant": key.tenant})
    return chosen


def check_text(services: ApiServices, text: str, what: str = "text") -> None:
    limit = services.settings.api_max_text_chars
    if len(text) > limit:
        raise ApiError(413, f"{what} has {len(text)} characters; the limit is {limit}")


def check_batch(services: ApiServices, count: int, what: str = "texts") -> None:
    limit = services.settings.api_max_batch
    if count > limit:
        raise ApiError(413, f"{count} {what} in one request; the limit is {limit}")


def finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such numbers become null (the result's other fields still explain it)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value
