"""Reviewer accounts for the dashboard: Argon2id password hashes, roles, and a sign-in throttle.

The audit log is only as good as the identities in it, so a decision is recorded under the account that signed
in, never under a typed name. Repeated failures are slowed per account *and* per client address (an attacker
cycling accounts from one address, or many addresses against one account, both meet the back-off), and the
back-off lives in the database so reloading the page or another dashboard process does not reset it. After
``FREE_FAILURES`` failures each further attempt must wait 2, 4, 8, ... seconds (capped at ``MAX_DELAY``), so
ten wrong passwords in a row cost more than four minutes of forced waiting. Each attempt claims its failure
before the password is checked (``provenance.review.signin_throttle``), so attempts sent in parallel are throttled
exactly like attempts sent one after another.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError
from provenance.review.signin_throttle import (  # noqa: F401 - the back-off constants are re-exported from here
    FAILURE_MEMORY,
    FREE_FAILURES,
    MAX_DELAY,
    claim_attempt,
    clear,
    delay_after,
)
from provenance.store.audit import audit
from provenance.store.engine import session_scope
from provenance.store.models import LoginThrottle, Reviewer, utcnow
from provenance.store.schema import ensure_schema

ROLES = ("reviewer", "admin", "platform-admin")  # platform-admin: every tenant (CLI-created only)
PLATFORM_ADMIN = "platform-admin"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
_NAME_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
_HASHER = PasswordHasher()  # Argon2id with the library's (RFC 9106 low-memory) defaults
_DUMMY_HASH = _HASHER.hash("not a password anyone has")  # verified against for unknown names: same timing


@dataclass(frozen=True)
class Account:
    """A signed-in reviewer as the dashboard keeps it."""

    name: str
    role: str
    signed_in_at: datetime
    tenant: str = "default"

    @property
    def scope(self) -> str | None:
        """The tenant whose rows this account sees; None (every tenant) for a platform-admin."""
        return None if self.role == PLATFORM_ADMIN else self.tenant


@dataclass(frozen=True)
class SignInResult:
    account: Account | None
    message: str  # what the sign-in form shows (never says whether the name exists)
    retry_after: float = 0.0  # seconds until another attempt is considered


def now_utc() -> datetime:
    """The store's clock (naive UTC), for callers that must not import the store themselves (the dashboard)."""
    return utcnow()


def _check_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not _NAME_SHAPE.match(cleaned):
        raise ProvenanceError(f"invalid reviewer name {name!r}",
                              hint="use 1-128 letters, digits, '_', '.', '@' or '-', e.g. alice")
    return cleaned


def _check_password(password: str) -> str:
    if not password or not password.strip():
        raise ProvenanceError("the password is empty", hint=f"choose one of at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ProvenanceError(f"the password is shorter than {MIN_PASSWORD_LENGTH} characters",
                              hint="a passphrase of several words is easy to remember and hard to guess")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ProvenanceError(f"the password is longer than {MAX_PASSWORD_LENGTH} characters")
    return password


def _public(row: Reviewer) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat(timespec="seconds") + "Z" if value is not None else None

    return {"name": row.name, "role": row.role, "tenant": row.tenant,
            "status": "disabled" if row.disabled_at else "active", "created_at": iso(row.created_at),
            "password_changed_at": iso(row.password_changed_at), "disabled_at": iso(row.disabled_at)}


def _get(session: Session, name: str) -> Reviewer:
    row = session.scalars(select(Reviewer).where(Reviewer.name == name)).first()
    if row is None:
        raise ProvenanceError(f"no reviewer {name!r}", hint="see provenance reviewer list")
    return row


def add_reviewer(url: str, name: str, password: str, *, role: str = "reviewer", actor: str = "cli",
                 tenant: str | None = None) -> dict[str, Any]:
    """Create an account of ``tenant`` (default ``default``; it must exist, as for API keys), audited. Names are
    unique; the password is stored only as an Argon2id hash. Accounts are made on the command line only, so
    only the machine's operator can make a platform-admin."""
    from provenance.tenants import require_tenant

    name = _check_name(name)
    if role not in ROLES:
        raise ProvenanceError(f"unknown role {role!r}", hint="roles are: " + ", ".join(ROLES))
    digest = _HASHER.hash(_check_password(password))
    ensure_schema(url)
    with session_scope(url) as session:
        if session.scalars(select(Reviewer.id).where(Reviewer.name == name)).first() is not None:
            raise ProvenanceError(f"reviewer {name!r} already exists",
                                  hint=f"change its password with provenance reviewer passwd {name}")
        tenant = require_tenant(session, tenant)
        row = Reviewer(name=name, password_hash=digest, role=role, tenant=tenant)
        session.add(row)
        audit(session, actor=actor, action="reviewer.add", subject_type="reviewer", subject_id=name,
              details={"role": role, "tenant": tenant})
        session.flush()
        return _public(row)


def list_reviewers(url: str) -> list[dict[str, Any]]:
    ensure_schema(url)
    with session_scope(url) as session:
        return [_public(row) for row in session.scalars(select(Reviewer).order_by(Reviewer.name))]


def disable_reviewer(url: str, name: str, *, actor: str = "cli") -> dict[str, Any]:
    """Disable an account (idempotent): it cannot sign in, and its open sessions end at their next action."""
    name = _check_name(name)
    ensure_schema(url)
    with session_scope(url) as session:
        row = _get(session, name)
        if row.disabled_at is None:
            row.disabled_at = utcnow()
            audit(session, actor=actor, action="reviewer.disable", subject_type="reviewer", subject_id=name)
        return _public(row)


def set_password(url: str, name: str, password: str, *, actor: str = "cli") -> dict[str, Any]:
    """Replace an account's password; sessions signed in before the change end at their next action."""
    name = _check_name(name)
    digest = _HASHER.hash(_check_password(password))
    ensure_schema(url)
    with session_scope(url) as session:
        row = _get(session, name)
        row.password_hash = digest
        row.password_changed_at = utcnow()
        session.execute(LoginThrottle.__table__.delete().where(LoginThrottle.key == throttle_key(name)))
        audit(session, actor=actor, action="reviewer.passwd", subject_type="reviewer", subject_id=name)
        return _public(row)


def has_accounts(url: str) -> bool:
    """Whether any active account exists (without one, the dashboard is local-only and cannot be signed into)."""
    ensure_schema(url)
    with session_scope(url) as session:
        return session.scalar(select(Reviewer.id).where(Reviewer.disabled_at.is_(None)).limit(1)) is not None


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def authenticate(url: str, name: str, password: str, *, client: str = "unknown",
                 now: datetime | None = None) -> SignInResult:
    """Check a sign-in. Every outcome is audited; the answer never says whether the name exists.

    The attempt first claims a failure for its account and its client in one locked transaction
    (``signin_throttle.claim_attempt``); inside a back-off window it is refused there and the password is not
    even checked (so guessing during the wait, or many guesses sent at once, gain nothing). The password is
    checked after that transaction commits, and only a right one clears the counts."""
    now = now or utcnow()
    given = (name or "").strip()[:128]
    client = (client or "unknown")[:64]
    keys = [throttle_key(given), f"client:{client}"]
    ensure_schema(url)
    with session_scope(url, immediate=True) as session:
        claim = claim_attempt(session, keys, now)
        if not claim.allowed:
            audit(session, actor="signin:unauthenticated", action="reviewer.signin_throttled",
                  subject_type="reviewer", subject_id=given or None,
                  details={"client": client, "retry_after_seconds": round(claim.wait, 1)})
            return SignInResult(None, f"Too many failed sign-ins: wait {claim.wait:.0f} s and try again.",
                                claim.wait)
    with session_scope(url) as session:
        row = session.scalars(select(Reviewer).where(Reviewer.name == given)).first() if given else None
        stored_hash = row.password_hash if row is not None else None
        changed_at = row.password_changed_at if row is not None else None
    ok = _verify(stored_hash, password)  # outside any transaction: no lock is held for Argon2's ~100 ms
    with session_scope(url) as session:
        row = session.scalars(select(Reviewer).where(Reviewer.name == given)).first() if given else None
        if (ok and row is not None and row.disabled_at is None
                and row.password_changed_at == changed_at):  # not replaced while we checked
            clear(session, keys)
            if _HASHER.check_needs_rehash(row.password_hash):
                row.password_hash = _HASHER.hash(password)
            audit(session, actor=row.name, action="reviewer.signin", subject_type="reviewer", subject_id=row.name,
                  details={"client": client})
            return SignInResult(Account(row.name, row.role, now, row.tenant), "signed in")
        audit(session, actor="signin:unauthenticated", action="reviewer.signin_failed", subject_type="reviewer",
              subject_id=given or None,
              details={"client": client, "failures": claim.failures, "retry_after_seconds": claim.wait,
                       "disabled": bool(ok and row is not None and row.disabled_at is not None)})
        after = f" Wait {claim.wait:.0f} s before the next attempt." if claim.wait else ""
        message = "Wrong name or password." + after
        return SignInResult(None, message, claim.wait)


def throttle_key(name: str) -> str:
    """The back-off counter of an account name (case-folded: ``Alice`` and ``alice`` share one)."""
    return f"account:{name.strip().lower()}"


def session_still_valid(url: str, account: Account) -> bool:
    """An open dashboard session stays valid while its account is active and its password unchanged."""
    with session_scope(url) as session:
        row = session.scalars(select(Reviewer).where(Reviewer.name == account.name)).first()
        return (row is not None and row.disabled_at is None
                and row.password_changed_at <= account.signed_in_at
                and row.role == account.role and row.tenant == account.tenant)


def record_session_end(url: str, name: str, reason: str) -> None:
    """Audit a sign-out or an expired session."""
    with session_scope(url) as session:
        audit(session, actor=name, action=f"reviewer.{reason}", subject_type="reviewer", subject_id=name)


DEMO_REVIEWER = "demo"
DEMO_PASSWORD_FILE = "demo_reviewer_password"


def ensure_demo_reviewer(url: str, home: Path) -> tuple[str, str | None]:
    """The demo's reviewer account: created once with a random password kept in ``<home>/keys`` (0600), so
    ``make demo`` can always print how to sign in. Returns (name, password or None when the account exists
    but its password file was removed)."""
    from provenance.signing import keys_dir, write_private_file

    path = keys_dir(home) / DEMO_PASSWORD_FILE
    existing = {record["name"] for record in list_reviewers(url)}
    if DEMO_REVIEWER in existing:
        return DEMO_REVIEWER, path.read_text().strip() if path.is_file() else None
    password = secrets.token_urlsafe(12)
    path.unlink(missing_ok=True)
    write_private_file(path, (password + "\n").encode())
    add_reviewer(url, DEMO_REVIEWER, password, role="admin", actor="demo")
    return DEMO_REVIEWER, password
