"""Storage: SQLAlchemy models, engines, Alembic schema management and small repositories."""

from provenance.store.engine import get_engine, session_scope
from provenance.store.models import (
    ActiveArtifact,
    ApiKey,
    Artifact,
    AuditLog,
    Base,
    Chunk,
    Document,
    JobCallback,
    JobItem,
    Manifest,
    ManifestBand,
    RateBucket,
    ReviewDecision,
    ReviewLease,
    ScanJob,
    StagedText,
    VerdictRow,
    WorkerHeartbeat,
    utcnow,
)
from provenance.store.schema import ensure_schema, upgrade

__all__ = [
    "ActiveArtifact", "ApiKey", "Artifact", "AuditLog", "Base", "Chunk", "Document", "JobCallback", "JobItem",
    "Manifest", "ManifestBand", "RateBucket", "ReviewDecision", "ReviewLease", "ScanJob", "StagedText", "VerdictRow",
    "WorkerHeartbeat", "ensure_schema", "get_engine", "session_scope", "upgrade", "utcnow",
]
