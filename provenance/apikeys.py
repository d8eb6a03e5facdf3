"""API keys for the verification service: create, list, revoke and verify them against the store.

Only the SHA-256 of a key is stored; the key itself is shown once, at creation. A key looks like
``pvk_<id>_<secret>``: the id part lets a log line or an error name a key without revealing it, and lookups go
by the hash (a unique index), after which the stored hash is compared with ``hmac.compare_digest`` so the
comparison time never depends on how many leading characters matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from provenance.errors import ProvenanceError
from provenance.store.audit import audit
from provenance.store.engine import session_scope
from provenance.store.models import DEFAULT_TENANT, ApiKey, utcnow
from provenance.store.schema import ensure_schema
from provenance.tenants import check_tenant_name

# ``admin`` administers its own tenant; ``platform-admin`` (issue 27) also reads other tenants' records, each read
# audited. Keys are created only from the CLI, so granting it takes shell access to the server.
PLATFORM_ADMIN = "platform-admin"
SCOPES = ("verify", "generate", "scan", "admin", PLATFORM_ADMIN)
KEY_PREFIX = "pvk_"
_KEY_SHAPE = re.compile(r"^pvk_[0-9a-f]{12}_[A-Za-z0-9_-]{20,128}$")


@dataclass(frozen=True)
class ApiKeyInfo:
    """What the service needs to know about a verified key (never the key or its hash)."""

    id: str
    name: str
    scopes: frozenset[str]
    requests_per_minute: int | None
    tokens_per_minute: int | None
    tenant: str = DEFAULT_TENANT

    def allows(self, scope: str) -> bool:
        """``admin`` implies every tenant scope; ``platform-admin`` implies ``admin`` too."""
        if scope in self.scopes or PLATFORM_ADMIN in self.scopes:
            return True
        return scope != PLATFORM_ADMIN and "admin" in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_scopes(scopes: str | Iterable[str]) -> list[str]:
    """``verify,generate`` or a list; unknown names are a clear error, duplicates are dropped."""
    items = scopes.split(",") if isinstance(scopes, str) else list(scopes)
    chosen: list[str] = []
    for item in (part.strip().lower() for part in items):
        if not item:
            continue
        if item not in SCOPES:
            raise ProvenanceError(f"unknown scope {item!r}", hint="scopes are: " + ", ".join(SCOPES))
        if item not in chosen:
            chosen.append(item)
    if not chosen:
        raise ProvenanceError("an API key needs at least one scope", hint="e.g. --scopes verify,generate")
    return chosen


def _check_limit(value: int | None, what: str) -> int | None:
    if value is not None and value <= 0:
        raise ProvenanceError(f"{what} must be a positive integer, got {value}",
                              hint=f"omit --{what} to use the server default")
    return value


def create_api_key(url: str, *, name: str, scopes: str | Iterable[str], requests_per_minute: int | None = None,
                   tokens_per_minute: int | None = None, actor: str = "cli",
                   tenant: str | None = None) -> tuple[str, str]:
    """Create a key for ``tenant`` (``default`` when None; naming a new tenant creates it); returns (id, key).
    The key is not stored anywhere and cannot be shown again."""
    tenant = check_tenant_name(tenant)
    name = name.strip()
    if not name or len(name) > 128:
        raise ProvenanceError("an API key needs a name of 1-128 characters", hint="e.g. --name reporting-team")
    chosen = parse_scopes(scopes)
    _check_limit(requests_per_minute, "requests-per-minute")
    _check_limit(tokens_per_minute, "tokens-per-minute")
    ensure_schema(url)
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    with session_scope(url) as session:
        session.add(ApiKey(id=key_id, name=name, key_hash=hash_key(key), scopes=chosen, tenant=tenant,
                           requests_per_minute=requests_per_minute, tokens_per_minute=tokens_per_minute))
        audit(session, actor=actor, action="apikey.create", subject_type="api_key", subject_id=key_id,
              details={"name": name, "scopes": chosen, "tenant": tenant, "requests_per_minute": requests_per_minute,
                       "tokens_per_minute": tokens_per_minute})
    return key_id, key


def _public(row: ApiKey) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat(timespec="seconds") + "Z" if value is not None else None

    return {"id": row.id, "name": row.name, "scopes": list(row.scopes or []), "tenant": row.tenant,
            "requests_per_minute": row.requests_per_minute, "tokens_per_minute": row.tokens_per_minute,
            "created_at": iso(row.created_at), "revoked_at": iso(row.revoked_at),
            "last_used_at": iso(row.last_used_at), "status": "revoked" if row.revoked_at else "active"}


def list_api_keys(url: str) -> list[dict[str, Any]]:
    """Every key (revoked ones included) without hashes."""
    ensure_schema(url)
    with session_scope(url) as session:
        return [_public(row) for row in session.scalars(select(ApiKey).order_by(ApiKey.created_at))]


def revoke_api_key(url: str, key_id: str, *, actor: str = "cli") -> dict[str, Any]:
    """Mark a key revoked (idempotent). Running API processes stop accepting it within their cache TTL."""
    ensure_schema(url)
    with session_scope(url) as session:
        row = session.get(ApiKey, key_id.strip())
        if row is None:
            raise ProvenanceError(f"no API key {key_id!r}", hint="see provenance apikey list")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            audit(session, actor=actor, action="apikey.revoke", subject_type="api_key", subject_id=row.id)
        return _public(row)


def verify_api_key(url: str, key: str) -> ApiKeyInfo | None:
    """The key's record when it exists and is not revoked; None otherwise (malformed keys never hit the DB)."""
    if not _KEY_SHAPE.match(key):
        return None
    digest = hash_key(key)
    with session_scope(url) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
            return None
        session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=utcnow()))
        return ApiKeyInfo(id=row.id, name=row.name, scopes=frozenset(row.scopes or []),
                          requests_per_minute=row.requests_per_minute, tokens_per_minute=row.tokens_per_minute,
                          tenant=row.tenant)
