"""Submit a scan: stream records into job items, documents and chunks, then hand each chunk to the broker.

Each batch of records commits in one transaction (its job items, new documents, staged texts, the chunk and the
job's counters) *before* its message is published, so a crash between the two leaves a chunk the stall
recovery re-sends, never a message about rows that do not exist. ``job.total`` counts committed records,
which is where ``--resume`` starts again. Submission pauses while too many chunks are unfinished, so a dump
of any size needs bounded memory, broker space and staging space.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from generator.stamping import text_sha256
from provenance.errors import ProvenanceError
from provenance.pipeline.document_scoring import bundle_version
from provenance.pipeline.readers import InputRecord, ReaderOptions, RecordReader
from provenance.pipeline.recovery import recover_job
from provenance.settings import Settings
from provenance.store import Chunk, Document, JobItem, ScanJob, StagedText, Verdict, ensure_schema, session_scope
from provenance.store.models import utcnow
from provenance.tenants import require_tenant

ProgressCallback = Callable[[int], None]


def send_chunk(settings: Settings, chunk_id: int) -> None:
    """Publish one chunk's task (retrying while the broker is unreachable)."""
    from provenance.pipeline.celery_app import celery_for

    celery_for(settings.resolved_broker_url).send_task(
        "provenance.score_chunk", args=[chunk_id], retry=True,
        retry_policy={"max_retries": 30, "interval_start": 0.5, "interval_step": 1.0, "interval_max": 5.0})


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


def create_job(settings: Settings, inputs: dict[str, Any]) -> str:
    """Record a job owned by ``inputs["tenant"]`` (``default`` when absent; it must exist)."""
    ensure_schema(settings.resolved_database_url)
    job_id = new_job_id()
    with session_scope(settings.resolved_database_url) as session:
        tenant = require_tenant(session, inputs.get("tenant"))
        session.add(ScanJob(id=job_id, inputs={**inputs, "tenant": tenant}, tenant=tenant,
                            bundle_version=bundle_version(settings), status="queued"))
    return job_id


def _insert_ignore_documents(session: Session, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: concurrent submitters may meet the same text."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(Document).values(rows).on_conflict_do_nothing(index_elements=["content_hash"])
    elif dialect == "sqlite":
        statement = sqlite.insert(Document).values(rows).on_conflict_do_nothing(index_elements=["content_hash"])
    else:
        existing = set(session.scalars(select(Document.content_hash)
                                       .where(Document.content_hash.in_([r["content_hash"] for r in rows]))))
        session.add_all(Document(**r) for r in rows if r["content_hash"] not in existing)
        return
    session.execute(statement)


def _commit_batch(settings: Settings, job_id: str, batch: list[InputRecord]) -> int | None:
    """Record one batch; returns the id of the chunk to send (None when nothing needs scoring)."""
    url = settings.resolved_database_url
    with session_scope(url) as session:
        job = session.get(ScanJob, job_id, with_for_update=True)
        hashes = {record.seq: text_sha256(record.text) for record in batch if record.text is not None}
        now = utcnow()
        _insert_ignore_documents(session, [
            {"content_hash": digest, "source_id": record.source_id, "num_chars": len(record.text), "created_at": now}
            for record in batch if (digest := hashes.get(record.seq)) is not None])
        documents = dict(session.execute(select(Document.content_hash, Document.id)
                                         .where(Document.content_hash.in_(set(hashes.values())))).all())
        doc_ids = set(documents.values())
        seen_in_job = set(session.scalars(select(JobItem.document_id).where(
            JobItem.job_id == job_id, JobItem.outcome == "document", JobItem.document_id.in_(doc_ids))))
        judged = set(session.scalars(select(Verdict.document_id).where(
            Verdict.document_id.in_(doc_ids), Verdict.bundle_version == job.bundle_version)))
        staged: list[tuple[int, str]] = []
        counts = {"quarantined": 0, "duplicates": 0, "documents": 0, "reused": 0}
        for record in batch:
            if record.text is None:
                session.add(JobItem(job_id=job_id, seq=record.seq, source_id=record.source_id, outcome="quarantined",
                                    reason=record.reason, location=record.location, excerpt=record.excerpt))
                counts["quarantined"] += 1
                continue
            doc_id = documents[hashes[record.seq]]
            if doc_id in seen_in_job:
                session.add(JobItem(job_id=job_id, seq=record.seq, source_id=record.source_id, outcome="duplicate",
                                    document_id=doc_id))
                counts["duplicates"] += 1
                continue
            seen_in_job.add(doc_id)
            session.add(JobItem(job_id=job_id, seq=record.seq, source_id=record.source_id, outcome="document",
                                document_id=doc_id))
            counts["documents"] += 1
            if doc_id in judged:
                counts["reused"] += 1
            else:
                staged.append((doc_id, record.text))
        chunk_id = None
        if staged:
            chunk = Chunk(job_id=job_id, size=len(staged), status="queued")
            session.add(chunk)
            session.flush()
            chunk_id = chunk.id
            session.add_all(StagedText(chunk_id=chunk_id, document_id=doc_id, text=text) for doc_id, text in staged)
        job.total += len(batch)
        job.quarantined += counts["quarantined"]
        job.duplicates += counts["duplicates"]
        job.documents += counts["documents"]
        job.reused += counts["reused"]
        job.chunks_total += 1 if staged else 0
        if job.status == "queued":
            job.status, job.started_at = "running", job.started_at or now
        return chunk_id


def _pending_chunks(settings: Settings, job_id: str) -> int:
    with session_scope(settings.resolved_database_url) as session:
        return session.scalar(select(func.count()).select_from(Chunk)
                              .where(Chunk.job_id == job_id, Chunk.status != "done")) or 0


def _batches(records: Iterable[InputRecord], size: int) -> Iterator[list[InputRecord]]:
    batch: list[InputRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def feed(settings: Settings, job_id: str, records: Iterable[InputRecord], *,
         progress: ProgressCallback | None = None) -> None:
    """Commit and send ``records`` batch by batch, with back-pressure; then mark the submission complete."""
    for batch in _batches(records, settings.scan_chunk_size):
        while _pending_chunks(settings, job_id) >= settings.scan_max_pending_chunks:
            recover_job(settings, job_id, lambda chunk_id: send_chunk(settings, chunk_id))
            time.sleep(0.5)
        chunk_id = _commit_batch(settings, job_id, batch)
        if chunk_id is not None:
            send_chunk(settings, chunk_id)
        if progress is not None:
            progress(len(batch))
    from provenance.pipeline.processing import finish_job_if_complete

    with session_scope(settings.resolved_database_url) as session:
        job = session.get(ScanJob, job_id)
        job.submission_done = True
        session.flush()
        finish_job_if_complete(session, job_id)


def _records_from_dicts(records: Iterable[dict[str, Any]], options: ReaderOptions) -> Iterator[InputRecord]:
    for seq, record in enumerate(records):
        source_id = None if record.get("id") is None else str(record["id"])[:512]
        text = record.get("text")
        location = f"request record {seq}"
        if not isinstance(text, str):
            yield InputRecord(seq, source_id, None, 'field "text" is missing or not a string', location)
        elif not text.strip():
            yield InputRecord(seq, source_id, None, "empty document", location)
        elif len(text) > options.max_chars:
            yield InputRecord(seq, source_id, None, f"oversize document: {len(text):,} characters > limit "
                              f"{options.max_chars:,}", location, text[:300])
        else:
            yield InputRecord(seq, source_id, text, None, location)


def submit_records(settings: Settings, records: Iterable[dict[str, Any]], *, inputs: dict[str, Any]) -> str:
    """Scan in-memory records (``{"id"?, "text"}``, e.g. from the API). Returns the job id."""
    job_id = create_job(settings, {**inputs, "kind": "records"})
    feed(settings, job_id, _records_from_dicts(records, ReaderOptions(max_chars=settings.scan_max_chars)))
    return job_id


def reader_for(settings: Settings, inputs: dict[str, Any]) -> RecordReader:
    options = ReaderOptions(format=inputs.get("format", "auto"), text_field=inputs.get("text_field", "text"),
                            id_field=inputs.get("id_field", "id"), max_chars=settings.scan_max_chars)
    return RecordReader(inputs["paths"], options)


def path_inputs(paths: Sequence[str | Path], *, format: str = "auto", text_field: str = "text",
                id_field: str = "id", tenant: str | None = None) -> dict[str, Any]:
    return {"kind": "paths", "paths": [str(Path(p).expanduser().resolve()) for p in paths], "format": format,
            "text_field": text_field, "id_field": id_field, "tenant": tenant}


def submit_paths(settings: Settings, paths: Sequence[str | Path], *, format: str = "auto", text_field: str = "text",
                 id_field: str = "id", progress: ProgressCallback | None = None,
                 on_job: Callable[[str], None] | None = None, tenant: str | None = None) -> str:
    """Scan files and directories for ``tenant`` (``default`` when None). ``on_job`` hears the job id as soon as
    it exists (for Ctrl-C messages)."""
    inputs = path_inputs(paths, format=format, text_field=text_field, id_field=id_field, tenant=tenant)
    reader = reader_for(settings, inputs)  # validates paths and options before a job is recorded
    job_id = create_job(settings, inputs)
    if on_job is not None:
        on_job(job_id)
    feed(settings, job_id, iter(reader), progress=progress)
    return job_id


def resume(settings: Settings, job_id: str, *, progress: ProgressCallback | None = None) -> int:
    """Continue an interrupted submission where its last committed batch ended; re-send unfinished chunks.
    Returns the number of records skipped (already committed)."""
    ensure_schema(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as session:
        job = session.get(ScanJob, job_id)
        if job is None:
            raise ProvenanceError(f"no scan job {job_id!r}", hint="list jobs with provenance jobs list")
        inputs, committed, complete = dict(job.inputs), job.total, job.submission_done
    recover_job(settings, job_id, lambda chunk_id: send_chunk(settings, chunk_id), force=True)
    if complete:
        return committed
    if inputs.get("kind") != "paths":
        raise ProvenanceError(f"job {job_id} was submitted from request records, which cannot be read again",
                              hint="submit the records again as a new scan")
    records = (record for record in reader_for(settings, inputs) if record.seq >= committed)
    if progress is not None:
        progress(committed)
    feed(settings, job_id, records, progress=progress)
    return committed
