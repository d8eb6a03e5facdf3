"""Signed, expiring dashboard session tokens, so a browser reload does not sign the reviewer out.

Streamlit forgets everything on a reload (a new websocket is a new session), so the dashboard keeps a token in
the page URL. The token never holds the password: it names the account and the sign-in time, expires after
the idle limit (it is re-issued on every page run, so activity moves the expiry), and is signed with an HMAC
key kept in ``<home>/keys`` (0600). A token is only a claim: on resume it is checked *server-side* against
the account (active, same role and tenant, password not changed since the sign-in, as
``accounts.session_still_valid`` requires), the session's maximum age, and the audit log (a session that was
signed out, expired or revoked stays ended, even if an old URL with its token is reloaded).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from provenance.review.accounts import Account, session_still_valid
from provenance.store.audit import audit
from provenance.store.engine import session_scope
from provenance.store.models import AuditLog, Reviewer, utcnow

SESSION_KEY_FILE = "dashboard-session.key"
QUERY_PARAM = "session"
ENDED_ACTIONS = ("reviewer.signout", "reviewer.session_expired", "reviewer.session_revoked",
                 "reviewer.session_missing")


@dataclass(frozen=True)
class Resumed:
    account: Account | None
    reason: str | None  # why the token was refused (for the log and tests; the page only asks to sign in)


def _secret(home: Path) -> bytes:
    """The installation's session-signing key, created on first use (a racing process's key wins)."""
    from provenance.signing import keys_dir, write_private_file

    path = keys_dir(home) / SESSION_KEY_FILE
    if not path.is_file():
        with contextlib.suppress(FileExistsError):
            write_private_file(path, secrets.token_bytes(32))
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(home: Path, payload: str) -> str:
    return _b64(hmac.new(_secret(home), payload.encode(), hashlib.sha256).digest())


def issue_token(home: Path, account: Account, *, idle_minutes: float, now: datetime | None = None) -> str:
    """A token for ``account`` valid for ``idle_minutes`` from ``now`` (re-issue it on every activity)."""
    now = now or utcnow()
    body = {"n": account.name, "s": account.signed_in_at.isoformat(),
            "x": (now + timedelta(minutes=idle_minutes)).isoformat()}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_sign(home, payload)}"


def resume(url: str, home: Path, token: str, *, max_hours: float, now: datetime | None = None,
           client: str = "unknown") -> Resumed:
    """The account a token stands for, or None and why. A resumed session is audited
    (``reviewer.session_resumed``): it is a sign-in without a password."""
    now = now or utcnow()
    try:
        payload, signature = str(token or "").split(".", 1)
        if not hmac.compare_digest(signature, _sign(home, payload)):
            return Resumed(None, "bad signature")
        body = json.loads(_unb64(payload))
        name, signed_in_at = str(body["n"]), datetime.fromisoformat(body["s"])
        expires = datetime.fromisoformat(body["x"])
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        return Resumed(None, "malformed token")
    if now >= expires:
        return Resumed(None, "expired (idle)")
    if now - signed_in_at > timedelta(hours=max_hours):
        return Resumed(None, "expired (maximum session length)")
    with session_scope(url) as session:
        row = session.scalars(select(Reviewer).where(Reviewer.name == name)).first()
        if row is None:
            return Resumed(None, "unknown account")
        account = Account(row.name, row.role, signed_in_at, row.tenant)
        ended = session.scalar(select(AuditLog.id).where(AuditLog.actor == name, AuditLog.action.in_(ENDED_ACTIONS),
                                                         AuditLog.at >= signed_in_at).limit(1))
    if ended is not None:
        return Resumed(None, "session ended")
    if not session_still_valid(url, account):
        return Resumed(None, "account changed")
    with session_scope(url) as session:
        audit(session, actor=name, action="reviewer.session_resumed", subject_type="reviewer", subject_id=name,
              details={"client": (client or "unknown")[:64], "signed_in_at": signed_in_at.isoformat()})
    return Resumed(account, None)
