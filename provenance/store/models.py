"""The platform's tables (SQLAlchemy 2 declarative models); Alembic migrations in ``migrations/`` create them.

One row per *distinct* document (by the SHA-256 of its normalised text), one verdict per document and detector
bundle version (a unique constraint, so a re-delivered task can never write a second one), one job item per
input record (so every input line ends as exactly one scored document, duplicate or quarantine record), and
the durable chunk queue that makes a scan survive lost broker messages. The generation ledger (manifests and
their MinHash LSH bands), review decisions, leases, the append-only audit log and hashed API keys live here
too, so the API and the dashboard read the same database as the pipeline.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_TENANT = "default"  # what existing rows and single-team installs belong to


def tenant_column() -> Mapped[str]:
    """The owning tenant of a row; migration 0002 gave every earlier row ``default``."""
    return mapped_column(String(64), default=DEFAULT_TENANT, server_default=DEFAULT_TENANT, index=True)


def utcnow() -> datetime:
    """Naive UTC: SQLite keeps no time zone, so every database stores UTC without one and compares alike."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime()}


class Document(Base):
    """A distinct text. The raw text is kept only when ``PROVENANCE_STORE_RAW_TEXT`` is on; the redacted
    text (PII replaced) is written by the worker that scored it."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source_id: Mapped[str | None] = mapped_column(String(512))
    num_chars: Mapped[int] = mapped_column(Integer, default=0)
    redacted_text: Mapped[str | None] = mapped_column(Text)
    raw_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScanJob(Base):
    """One scan submission: its inputs (for ``--resume``), counters, status and timing."""

    __tablename__ = "scan_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    tenant: Mapped[str] = tenant_column()
    inputs: Mapped[dict[str, Any]] = mapped_column(default=dict)  # paths, format, text/id fields
    bundle_version: Mapped[str] = mapped_column(String(128))
    total: Mapped[int] = mapped_column(Integer, default=0)  # input records read and committed
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)  # repeats of an earlier record of this job
    documents: Mapped[int] = mapped_column(Integer, default=0)  # distinct documents of this job
    reused: Mapped[int] = mapped_column(Integer, default=0)  # distinct documents already scored before the job
    chunks_total: Mapped[int] = mapped_column(Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    new_verdicts: Mapped[int] = mapped_column(Integer, default=0)
    submission_done: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    last_progress_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobItem(Base):
    """One input record of a job: a document (first sighting in the job), a duplicate, or a quarantine record."""

    __tablename__ = "job_items"
    __table_args__ = (UniqueConstraint("job_id", "seq", name="uq_job_items_job_seq"),
                      Index("ix_job_items_job_outcome", "job_id", "outcome"),
                      Index("ix_job_items_document", "document_id"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("scan_jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)  # record index in the job's input stream
    source_id: Mapped[str | None] = mapped_column(String(512))
    outcome: Mapped[str] = mapped_column(String(16))  # document | duplicate | quarantined
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    reason: Mapped[str | None] = mapped_column(Text)  # quarantine reason
    location: Mapped[str | None] = mapped_column(String(1024))  # file and line, for a quarantined record
    excerpt: Mapped[str | None] = mapped_column(Text)  # the start of the bad record, so nothing is lost silently


class Chunk(Base):
    """A unit of work: a few documents scored by one task. The durable queue behind the broker: a chunk whose
    message was lost (dead worker, restarted Redis) is re-sent by the stall recovery."""

    __tablename__ = "chunks"
    __table_args__ = (Index("ix_chunks_job_status", "job_id", "status"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("scan_jobs.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done
    size: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(256))
    lease_until: Mapped[datetime | None] = mapped_column()
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class StagedText(Base):
    """The text of a document waiting in a chunk; deleted in the transaction that writes its verdict."""

    __tablename__ = "staged_texts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    chunk_id: Mapped[int] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    text: Mapped[str] = mapped_column(Text)


class VerdictRow(Base):
    """The judgement of one document under one detector-bundle version (``+`` a digest of every signal's version
    when only another signal changed): every signal's record under ``signals[name]`` and its version under
    ``versions[name]`` (revision 0009 filled both in for older rows), plus the few columns signals declare as
    indexed (``BaseSignal.indexed``: copies out of their records, for queries and the review queue)."""

    __tablename__ = "verdicts"
    __table_args__ = (
        UniqueConstraint("document_id", "bundle_version", name="uq_verdicts_document_bundle"),
        Index("ix_verdicts_review", "needs_review", "review_priority"),
        Index("ix_verdicts_job", "job_id"),
        Index("ix_verdicts_verdict", "verdict"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    bundle_version: Mapped[str] = mapped_column(String(128))
    job_id: Mapped[str | None] = mapped_column(String(32))  # the job whose worker wrote it
    signals: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {name: record} of every signal that judged it
    versions: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {name: version} of the same signals
    models: Mapped[dict[str, Any]] = mapped_column(default=dict)  # scorer, bundle, keys, PII and toxicity ids
    # Indexed copies (detection, watermark, PII, toxicity, ledger lookup), then the review columns.
    p_machine: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(16), default="abstain")  # machine | human | uncertain | abstain
    margin: Mapped[float | None] = mapped_column(Float)  # distance of p_machine from the nearer threshold
    watermarked: Mapped[bool] = mapped_column(Boolean, default=False)
    watermark_z: Mapped[float | None] = mapped_column(Float)
    ledger_manifest_id: Mapped[str | None] = mapped_column(String(64))
    pii_count: Mapped[int] = mapped_column(Integer, default=0)
    pii_types: Mapped[str] = mapped_column(String(512), default="")  # ",EMAIL,PERSON," for SQL filtering
    p_toxic: Mapped[float | None] = mapped_column(Float)
    misuse: Mapped[bool] = mapped_column(Boolean, default=False)  # toxicity, with detection's verdict
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_priority: Mapped[float] = mapped_column(Float, default=0.0)
    review_status: Mapped[str | None] = mapped_column(String(16))  # None | decided | escalated | overlap
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def record(self, name: str) -> Any:
        """Signal ``name``'s stored record (None when that signal did not judge this verdict)."""
        return (self.signals or {}).get(name)


class JobCallback(Base):
    """A scan job's ``callback_url``: called once when the job ends, with a body signed by ``secret`` (HMAC-SHA256;
    the secret is shown to the submitter once). ``status``: pending | sending | delivered | failed; a sender
    claims the row (``sending`` until ``next_attempt_at``) so that several workers never call it twice, and a
    sender that died mid-attempt is replaced once that claim expires."""

    __tablename__ = "job_callbacks"
    __table_args__ = (Index("ix_job_callbacks_due", "status", "next_attempt_at"),)

    job_id: Mapped[str] = mapped_column(ForeignKey("scan_jobs.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(512))


class Manifest(Base):
    """The generation ledger: every signed manifest the platform's generator issued."""

    __tablename__ = "manifests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the manifest's own id
    text_sha256: Mapped[str] = mapped_column(String(64), index=True)
    tenant: Mapped[str] = tenant_column()
    model_name: Mapped[str | None] = mapped_column(String(512))
    watermark_key_id: Mapped[str | None] = mapped_column(String(64))
    requester: Mapped[str | None] = mapped_column(String(256))
    body: Mapped[dict[str, Any]] = mapped_column()  # the signed manifest as issued (signature included)
    minhash: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ManifestBand(Base):
    """MinHash LSH buckets of a manifest, one row per band: near-duplicate and containment lookups are indexed
    equality probes on ``band_key``.

    ``band_key`` packs the band and its 53-bit MinHash value into one integer (``band << 53 | value``: at most
    60 bits, so distinct (band, value) pairs never share a key). One integer key, rather than the (band, bucket
    string) pair it replaced in revision 0010, makes a containment query's 2,048 probes one list of integers the
    index is searched with: no string compares, and one statement however many values each band sends (its two
    band queries 1.36x faster at 10^6 manifests on SQLite, 1.34x at 10^5 on PostgreSQL: ``bench/ledger_scale.py``).

    ``tenant`` repeats the manifest's owner (a manifest never changes tenant) so that a tenant's lookup is
    answered from the index alone; joining ``manifests`` first made every lookup read all of the tenant's band
    rows. One (band_key, tenant) index serves both lookups: the whole ledger's by its ``band_key`` prefix, a
    tenant's by both columns."""

    __tablename__ = "manifest_bands"
    __table_args__ = (Index("ix_manifest_bands_key_tenant", "band_key", "tenant"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    manifest_id: Mapped[str] = mapped_column(ForeignKey("manifests.id", ondelete="CASCADE"), index=True)
    band_key: Mapped[int] = mapped_column(BigInteger)
    tenant: Mapped[str] = mapped_column(String(64), default=DEFAULT_TENANT, server_default=DEFAULT_TENANT)


class ReviewDecision(Base):
    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    verdict_id: Mapped[int] = mapped_column(ForeignKey("verdicts.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(32))  # machine | human | misuse | escalate
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Undo and change keep the old row: it is marked superseded (and by which row, for a change) and no longer
    # counts anywhere; ``previous_status`` is the verdict's review status before this decision, what undo restores.
    previous_status: Mapped[str | None] = mapped_column(String(16))
    superseded_at: Mapped[datetime | None] = mapped_column()
    superseded_by: Mapped[int | None] = mapped_column(Integer)


class ReviewLease(Base):
    """A reviewer's claim on a verdict; expired leases are free to claim again."""

    __tablename__ = "review_leases"

    verdict_id: Mapped[int] = mapped_column(ForeignKey("verdicts.id", ondelete="CASCADE"), primary_key=True)
    reviewer: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AuditLog(Base):
    """Append-only (database triggers refuse UPDATE and DELETE): who did what to which subject, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; the key itself is shown once at creation."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    tenant: Mapped[str] = tenant_column()
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    tokens_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class RateBucket(Base):
    """Token-bucket state per API key and limit, shared by every API process through the database."""

    __tablename__ = "rate_buckets"

    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # requests | tokens
    level: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)  # epoch seconds (sub-second precision on every database)


class WorkerHeartbeat(Base):
    """Live workers say so every few seconds: `scan --wait` starts local workers only when none is alive."""

    __tablename__ = "worker_heartbeats"

    hostname: Mapped[str] = mapped_column(String(256), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    broker: Mapped[str | None] = mapped_column(String(512))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class Reviewer(Base):
    """A dashboard account: the audit log records this name, never a name typed at sign-in.

    Only an Argon2id hash of the password is stored. ``role`` is reviewer, admin or platform-admin; a disabled
    account can no longer sign in, and its sessions end at their next page load. ``tenant``: whose rows the
    account sees in the dashboard (a platform-admin sees every tenant's; migration 0003 gave earlier accounts
    ``default``)."""

    __tablename__ = "reviewers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="reviewer")
    tenant: Mapped[str] = tenant_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column()


class LoginThrottle(Base):
    """Failed sign-ins per account (``account:NAME``) and per client (``client:ADDRESS``): the back-off lives in
    the database so reloading the page or reaching another dashboard process does not reset it."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column()
    blocked_until: Mapped[datetime | None] = mapped_column()


class Artifact(Base):
    """A published artifact (detector bundle with its promotion state, toxicity bundle, memorisation index, the
    ``keys`` directory) as one archive, so a host with an empty data home can fetch it (``provenance.artifacts``).
    ``digest`` is the SHA-256 of the plain archive; ``encrypted`` payloads (secrets) are AES-GCM under the
    operator's key-encryption key, which is never stored here."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("kind", "digest", name="uq_artifacts_kind_digest"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    published_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActiveArtifact(Base):
    """Which artifact of each kind every host should be serving: one row per kind, moved by a publish (and a
    promotion, once the store is in use). Hosts compare its digest with what they cached, once per chunk."""

    __tablename__ = "active_artifacts"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    artifact_id: Mapped[int] = mapped_column(ForeignKey("artifacts.id"))
    digest: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
