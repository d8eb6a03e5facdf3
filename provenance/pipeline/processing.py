"""Score one chunk exactly once in effect: claim it with a lease, score, and write everything in one transaction.

The claim is a conditional UPDATE (queued, or running with an expired lease), so two deliveries of the same
message never score a chunk at the same time; the final write is conditional on still holding the claim, and
verdicts are unique per document and bundle version, so a late duplicate delivery writes nothing.

A claim made by a Celery task carries the task's id (``task:<id>:<host>:<pid>:<nonce>``). A task that failed on
a transient database error (a PostgreSQL restart) left its chunk ``running``; its retry has the same task id and
re-owns the chunk at once instead of waiting out the lease. The nonce is new on every attempt, so if two
deliveries of one task ever overlapped, only the last to claim could write.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from provenance.pipeline.document_scoring import DocumentResult, DocumentScorer, verdict_fields
from provenance.settings import Settings
from provenance.store import Chunk, Document, ScanJob, StagedText, VerdictRow, session_scope, utcnow

log = logging.getLogger(__name__)


def process_scorer(settings: Settings) -> DocumentScorer:
    """A scorer for the detector bundle active now. Cheap: its signals come from the process's ``SignalSet``,
    which loads each model once and rebuilds a signal only when its bundle changes on disk."""
    return DocumentScorer(settings)


TASK_PREFIX = "task:"


def claim_token(task_id: str | None = None) -> str:
    """Who holds a claim: the task (when there is one), then host, process and a per-attempt nonce."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return f"{TASK_PREFIX}{task_id}:{owner}" if task_id else owner


def _task_prefix(token: str) -> str | None:
    """``task:<id>:`` for a task's token, None otherwise (a claim without a task is never re-owned)."""
    if not token.startswith(TASK_PREFIX):
        return None
    task_id = token[len(TASK_PREFIX):].split(":", 1)[0]
    return f"{TASK_PREFIX}{task_id}:"


def claim_chunk(session: Session, chunk_id: int, token: str, lease_seconds: float) -> str | None:
    """Claim the chunk for ``token``; returns how (``"queued"``, ``"retry"``: re-owned from an earlier attempt
    of the same task, ``"expired"``: taken over after another claim's lease ran out) or None when it is held
    (or done). An expired takeover is logged: it is what a stall costs, and the drills look for it."""
    now = utcnow()
    previous = session.execute(select(Chunk.status, Chunk.worker, Chunk.lease_until)
                               .where(Chunk.id == chunk_id)).first()
    if previous is None:
        return None
    claimable = (Chunk.status == "queued") | ((Chunk.status == "running") & (Chunk.lease_until < now))
    prefix = _task_prefix(token)
    if prefix is not None:
        claimable = claimable | ((Chunk.status == "running") & Chunk.worker.startswith(prefix, autoescape=True))
    result = session.execute(
        update(Chunk)
        .where(Chunk.id == chunk_id)
        .where(claimable)
        .values(status="running", worker=token, lease_until=now + timedelta(seconds=lease_seconds),
                attempts=Chunk.attempts + 1))
    if result.rowcount != 1:
        return None
    if previous.status == "queued":
        return "queued"
    if prefix is not None and (previous.worker or "").startswith(prefix):
        log.info("chunk %s: re-owned by a retry of its own task", chunk_id)
        return "retry"
    log.warning("chunk %s: took over from %s after its lease expired", chunk_id, previous.worker)
    return "expired"


def _verdict_row(document_id: int, version: str, job_id: str, result: DocumentResult,
                 ledger: tuple[dict[str, Any] | None, str | None]) -> VerdictRow:
    """The verdict row: every signal's record and version, the ledger lookup's (the provenance signal,
    ``ledger`` = (best match, version)) among them, and the columns copied out of those records."""
    match, ledger_version = ledger
    records = {**result.records, "provenance": match}
    versions = {**result.versions, "provenance": ledger_version}
    return VerdictRow(document_id=document_id, bundle_version=version, job_id=job_id, models=result.models,
                      **verdict_fields(records, versions))


def _ledger_matches(settings: Settings, session: Session, texts: list[str]) -> tuple[list[dict[str, Any] | None],
                                                                                     str | None]:
    """The provenance signal's best ledger match per text (exact, near duplicate or containment) and the
    signal's version. Looked up after scoring in a read transaction of its own, just before the write: a
    generation recorded while the chunk was scored is seen, and no worker holds the write lock (all of it on
    SQLite) during the lookup."""
    from provenance.signals import signal_set
    from provenance.signals.provenance import ProvenanceResult

    signal = signal_set(settings).get("provenance")
    records = signal.lookup(texts, connection=session.connection())
    return [ProvenanceResult(record).record() for record in records], signal.version


def process_chunk(settings: Settings, chunk_id: int, *, task_id: str | None = None) -> dict[str, Any]:
    """Claim, score and commit one chunk (``task_id``: the Celery task's, so its retries re-own the claim).
    Returns what happened (for logs and tests)."""
    url = settings.resolved_database_url
    token = claim_token(task_id)
    lease = max(settings.chunk_lease_seconds, settings.task_time_limit * 1.1)  # a live task keeps its chunk
    if settings.artifacts_from_store:  # a host fed by the store: one query, a fetch only when something moved;
        from provenance.artifacts import sync  # before the claim, so a refused archive leaves the chunk queued

        sync(settings)
    with session_scope(url) as session:
        claimed = claim_chunk(session, chunk_id, token, lease)
        if claimed is None:
            chunk = session.get(Chunk, chunk_id)
            return {"chunk": chunk_id, "skipped": "unknown chunk" if chunk is None else f"chunk is {chunk.status}"}
        chunk = session.get(Chunk, chunk_id)
        job_id = chunk.job_id
        session.execute(update(ScanJob).where(ScanJob.id == job_id, ScanJob.status == "queued")
                        .values(status="running", started_at=utcnow()))
        staged = session.execute(select(StagedText.document_id, StagedText.text, Document.content_hash)
                                 .join(Document, Document.id == StagedText.document_id)
                                 .where(StagedText.chunk_id == chunk_id).order_by(StagedText.id)).all()
    scorer = process_scorer(settings)  # the bundles active now judge the whole chunk
    with session_scope(url) as session:  # a job rescored for another signal's version writes under its own
        job_version = session.scalar(select(ScanJob.bundle_version).where(ScanJob.id == job_id)) or ""
    version = job_version if job_version.startswith(f"{scorer.version}+") else scorer.version
    started = time.perf_counter()
    results = scorer.score([text for _, text, _ in staged])
    with session_scope(url) as session:
        matches, ledger_version = _ledger_matches(settings, session, [text for _, text, _ in staged])
    ledger = dict(zip([doc_id for doc_id, _, _ in staged], matches, strict=True))
    scored_at = time.perf_counter()
    with session_scope(url) as session:
        owned = session.execute(update(Chunk).where(Chunk.id == chunk_id, Chunk.status == "running",
                                                    Chunk.worker == token)
                                .values(status="done", finished_at=utcnow(), lease_until=None))
        if owned.rowcount != 1:  # the lease expired and another worker took the chunk over: it writes instead
            session.rollback()
            return {"chunk": chunk_id, "skipped": "lease lost"}
        existing = set(session.scalars(select(VerdictRow.document_id).where(
            VerdictRow.document_id.in_([doc_id for doc_id, _, _ in staged]),
            VerdictRow.bundle_version == version)))
        written = 0
        documents = {document.id: document for document in session.scalars(  # one query, not one per document
            select(Document).where(Document.id.in_([doc_id for doc_id, _, _ in staged])))}
        for (doc_id, text, _content_hash), result in zip(staged, results, strict=True):
            document = documents[doc_id]
            document.redacted_text = result.redacted_text
            if settings.store_raw_text:
                document.raw_text = text
            if doc_id in existing:
                continue
            session.add(_verdict_row(doc_id, version, job_id, result, (ledger.get(doc_id), ledger_version)))
            existing.add(doc_id)
            written += 1
        session.query(StagedText).filter(StagedText.chunk_id == chunk_id).delete(synchronize_session=False)
        now = utcnow()
        session.execute(update(ScanJob).where(ScanJob.id == job_id)
                        .values(chunks_done=ScanJob.chunks_done + 1, new_verdicts=ScanJob.new_verdicts + written,
                                last_progress_at=now))
        session.flush()
        finish_job_if_complete(session, job_id)
    return {"chunk": chunk_id, "claim": claimed, "documents": len(staged), "new_verdicts": written,
            "score_seconds": round(scored_at - started, 3), "write_seconds": round(time.perf_counter() - scored_at, 3)}


def finish_job_if_complete(session: Session, job_id: str) -> None:
    session.execute(update(ScanJob)
                    .where(ScanJob.id == job_id, ScanJob.submission_done.is_(True),
                           ScanJob.chunks_done >= ScanJob.chunks_total, ScanJob.status.in_(("queued", "running")))
                    .values(status="done", finished_at=utcnow()))
