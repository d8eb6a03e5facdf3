"""Scan-job callbacks: ``POST /v1/scan`` with ``callback_url`` gets one signed POST when the job ends.

Why here (the pipeline) and not in the API: the job ends in whichever worker writes its last chunk, on any host,
possibly after the API process that accepted it has gone. Every worker's heartbeat thread calls
``deliver_due`` every few seconds; a conditional UPDATE claims one callback at a time (``sending`` until its
claim expires), so several workers never call the same URL twice, and a worker killed mid-attempt is replaced
once its claim runs out. Failed attempts are retried with exponential back-off (``BACKOFF_SECONDS`` doubling, at
most ``MAX_ATTEMPTS``); every attempt writes an audit row (``scan.callback``: attempt, HTTP status or error,
never the secret).

Signature (documented in docs/guides/api.md): header ``X-Provenance-Signature: t=<unix seconds>,v1=<hex>``
where ``<hex>`` is HMAC-SHA256 over ``f"{t}.".encode() + body`` with the job's callback secret (returned once
by ``POST /v1/scan``). The secret is stored encrypted (AES-256-GCM under ``PROVENANCE_SECRET_KEY``, the
artifact store's helper) when that key is configured, in the clear otherwise. Only ``https://`` URLs, or
``http://`` to a loopback address, are accepted: a scan submitter must not make the platform call into its
private network. Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError
from provenance.settings import Settings
from provenance.store import JobCallback, ScanJob, session_scope, utcnow
from provenance.store.audit import audit

SIGNATURE_HEADER = "X-Provenance-Signature"
MAX_ATTEMPTS = 6
BACKOFF_SECONDS = 2.0  # 2, 4, 8, 16, 32 s between attempts
CLAIM_SECONDS = 60  # a sender that has not finished by then is presumed dead
TIMEOUT_SECONDS = 10.0
MAX_URL_CHARS = 2048
ENDED = ("done", "failed")
log = logging.getLogger(__name__)


def check_callback_url(url: str) -> str:
    """The URL as given when it is ``https://HOST`` or ``http://`` to a loopback address; else a clear error."""
    if len(url) > MAX_URL_CHARS:
        raise ProvenanceError(f"callback_url is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ProvenanceError("callback_url is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ProvenanceError("callback_url must be an https:// URL (or http:// to a loopback address)")
    if parts.username or parts.password:
        raise ProvenanceError("callback_url must not carry credentials")
    if parts.scheme == "http" and not _loopback(host):
        raise ProvenanceError(f"callback_url http://{host} is refused: use https://, or http:// only to a "
                              "loopback address (127.0.0.1, ::1, localhost)")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_callback(url: str) -> dict[str, str]:
    """A checked URL and a fresh secret, for ``create_job`` (the submitter is shown the secret once)."""
    return {"url": check_callback_url(url), "secret": secrets.token_hex(32)}


def seal_secret(settings: Settings, secret: str, job_id: str) -> str:
    """The secret as the ``job_callbacks`` row stores it: encrypted, bound to its job, when the operator set
    ``PROVENANCE_SECRET_KEY`` (or ``_FILE``); as is when not (single-host installs keep working unchanged)."""
    from provenance.artifacts import seal_text

    return seal_text(settings, secret, f"callback secret {job_id}")


def open_secret(settings: Settings, stored: str, job_id: str) -> str:
    """The plain secret of a row (rows written before a key was configured are plain and stay readable)."""
    from provenance.artifacts import open_text

    return open_text(settings, stored, f"callback secret {job_id}")


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Provenance-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (and the tests): recompute and compare in constant time."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        expected = signature(secret, body, int(fields.get("t", "")))
    except ValueError:
        return False
    return hmac.compare_digest(expected, header)


def payload(session: Session, job: ScanJob) -> dict[str, Any]:
    """The body: the job's contract summary and where to read its verdicts."""
    from provenance.pipeline.jobs import summarise

    summary = summarise(session, job)
    summary.pop("callback", None)  # the delivery's own state ("sending") says nothing to the receiver
    return {"event": "scan.finished", **summary, "verdicts_url": f"/v1/jobs/{job.id}/verdicts",
            "export_url": f"/v1/jobs/{job.id}/export"}


def _claim(settings: Settings) -> tuple[str, str, str, bytes, int] | None:
    """One due callback of an ended job, claimed for this sender: (job id, url, secret, body, attempt)."""
    now = utcnow()
    with session_scope(settings.resolved_database_url) as session:
        due = session.execute(
            select(JobCallback.job_id).join(ScanJob, ScanJob.id == JobCallback.job_id)
            .where(or_(JobCallback.status == "pending", JobCallback.status == "sending"),
                   JobCallback.next_attempt_at <= now, ScanJob.status.in_(ENDED))
            .order_by(JobCallback.next_attempt_at).limit(1)).scalar()
        if due is None:
            return None
        claimed = session.execute(
            update(JobCallback).where(JobCallback.job_id == due, JobCallback.next_attempt_at <= now,
                                      JobCallback.status.in_(("pending", "sending")))
            .values(status="sending", attempts=JobCallback.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS)))
        if claimed.rowcount != 1:  # another sender took it first
            return None
        row = session.get(JobCallback, due)
        job = session.get(ScanJob, due)
        body = json.dumps(payload(session, job), sort_keys=True, default=str).encode()
        return due, row.url, row.secret, body, row.attempts


def _post(url: str, body: bytes, header: str) -> tuple[int | None, str | None]:
    """(HTTP status, error): one POST, no redirects followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
            return None

    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: header, "User-Agent": "provenance-callback/1"})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"{reason.__class__.__name__}: {reason}"[:300]


def attempt(settings: Settings) -> bool:
    """Claim and send one due callback; False when none was due. Records the outcome and its audit row."""
    claimed = _claim(settings)
    if claimed is None:
        return False
    job_id, url, stored, body, number = claimed
    try:
        secret = open_secret(settings, stored, job_id)
    except ProvenanceError as exc:  # no key, or another one: a failed attempt that says why, never a traceback
        status, error = None, f"{exc}"[:300]
    else:
        status, error = _post(url, body, signature(secret, body, int(time.time())))
    delivered = status is not None and 200 <= status < 300
    if not delivered and error is None:
        error = f"HTTP {status}"
    with session_scope(settings.resolved_database_url) as session:
        row = session.get(JobCallback, job_id)
        if delivered:
            row.status, row.delivered_at, row.last_error = "delivered", utcnow(), None
        elif number >= MAX_ATTEMPTS:
            row.status, row.last_error = "failed", error
        else:
            row.status, row.last_error = "pending", error
            row.next_attempt_at = utcnow() + timedelta(seconds=BACKOFF_SECONDS * 2 ** (number - 1))
        audit(session, actor="pipeline", action="scan.callback", subject_type="scan_job", subject_id=job_id,
              details={"attempt": number, "http_status": status, "delivered": delivered, "error": error,
                       "host": urlsplit(url).hostname, "final": delivered or number >= MAX_ATTEMPTS})
    if not delivered:
        log.warning("job %s: callback attempt %d failed: %s", job_id, number, error)
    return True


def deliver_due(settings: Settings, limit: int = 20) -> int:
    """Send up to ``limit`` due callbacks (the worker heartbeat calls this); returns how many were attempted."""
    sent = 0
    while sent < limit and attempt(settings):
        sent += 1
    return sent
