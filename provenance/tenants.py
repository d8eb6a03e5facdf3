"""Tenants: the unit of data ownership. API keys, scan jobs (and through them their verdicts and documents) and
ledger manifests belong to exactly one tenant; a key reads only its own tenant's records.

A tenant exists once an API key names it; ``default`` always exists, so single-team installs and everything
created before tenants (migration 0002) keep working unchanged.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError
from provenance.store.models import DEFAULT_TENANT, ApiKey

_TENANT_SHAPE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def check_tenant_name(name: str | None) -> str:
    """A tenant name as stored: lower-case letters, digits, ``_.-``, 1-64 characters (None -> ``default``)."""
    if name is None:
        return DEFAULT_TENANT
    cleaned = name.strip()
    if not _TENANT_SHAPE.match(cleaned):
        raise ProvenanceError(f"invalid tenant name {name!r}",
                              hint="use 1-64 lower-case letters, digits, '_', '.' or '-', starting with a letter "
                                   "or digit, e.g. --tenant newsroom")
    return cleaned


def tenant_exists(session: Session, name: str) -> bool:
    if name == DEFAULT_TENANT:
        return True
    return session.scalar(select(ApiKey.id).where(ApiKey.tenant == name).limit(1)) is not None


def require_tenant(session: Session, name: str | None) -> str:
    """The checked name of an existing tenant, or a clear error saying how tenants come to exist."""
    tenant = check_tenant_name(name)
    if not tenant_exists(session, tenant):
        raise ProvenanceError(f"unknown tenant {tenant!r}",
                              hint=f"a tenant exists once it has an API key: provenance apikey create --name NAME "
                                   f"--scopes scan --tenant {tenant}")
    return tenant
