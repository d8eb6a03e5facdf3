"""Submit a scan: stream records into job items, documents and chunks, then hand each chunk to the broker.

Each batch of records commits in one transaction (its job items, new documents, staged texts, its chunks and the
job's counters) *before* its messages are published, so a crash between the two leaves a chunk the stall
recovery re-sends, never a message about rows that do not exist. ``job.total`` counts committed records,
which is where ``--resume`` starts again. Submission pauses while too many chunks are unfinished, so a dump
of any size needs bounded memory, broker space and staging space.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from generator.stamping import text_sha256
from provenance.batching import chunked
from provenance.bundles import bundle_version
from provenance.errors import ProvenanceError
from provenance.pipeline.bulk_insert import bulk_insert
from provenance.pipeline.formats.common import shape_excerpt
from provenance.pipeline.readers import InputRecord, ReaderOptions, RecordReader
from provenance.pipeline.recovery import recover_job
from provenance.settings import Settings
from provenance.store import (
    Chunk,
    Document,
    JobCallback,
    JobItem,
    ScanJob,
    StagedText,
    VerdictRow,
    ensure_schema,
    session_scope,
)
from provenance.store.models import utcnow
from provenance.tenants import require_tenant

ProgressCallback = Callable[[int], None]
RECORDS_PER_COMMIT = 1024  # records per submission transaction (rounded to whole chunks)
ITEM_COLUMNS = ("job_id", "seq", "source_id", "outcome", "document_id", "reason", "location", "excerpt")


# The batch's lookups as cached statements with expanding IN parameters: built once, not per batch.
_DOCUMENT_IDS = select(Document.content_hash, Document.id).where(
    Document.content_hash.in_(bindparam("hashes", expanding=True)))
# lower(job_id) keeps SQLite off the (job_id, outcome) index, which would scan every item of the job so far for
# each batch (quadratic in the job's size); the document_id index answers in time proportional to the batch.
_SEEN_IN_JOB = select(JobItem.document_id).where(func.lower(JobItem.job_id) == bindparam("job_id"),
                                                 JobItem.outcome == "document",
                                                 JobItem.document_id.in_(bindparam("ids", expanding=True)))
_JUDGED = select(VerdictRow.document_id).where(VerdictRow.document_id.in_(bindparam("ids", expanding=True)),
                                            VerdictRow.bundle_version == bindparam("version"))



def stage_chunks(session: Session, job_id: str, staged: Sequence[tuple[int, str]], size: int) -> list[Chunk]:
    """Queue ``(document_id, text)`` pairs as chunks of ``size`` for the workers (submission and rescoring)."""
    chunks = [Chunk(job_id=job_id, size=len(staged[i:i + size]), status="queued")
              for i in range(0, len(staged), size)]
    session.add_all(chunks)
    session.flush()
    chunk_ids = [chunk.id for chunk in chunks]
    if staged:
        bulk_insert(session, StagedText.__table__, ("chunk_id", "document_id", "text"),
                    [(chunk_ids[i // size], doc_id, text) for i, (doc_id, text) in enumerate(staged)])
    return chunks

def _bind_value(session: Session, column: Any, value: Any) -> Any:
    """``value`` as the driver gets it for ``column`` (SQLite stores datetimes as SQLAlchemy-formatted text)."""
    processor = column.type.bind_processor(session.get_bind().dialect)
    return processor(value) if processor else value


def send_chunk(settings: Settings, chunk_id: int) -> None:
    """Publish one chunk's task (retrying while the broker is unreachable)."""
    from provenance.pipeline.celery_app import celery_for

    celery_for(settings.resolved_broker_url).send_task(
        "provenance.score_chunk", args=[chunk_id], retry=True,
        retry_policy={"max_retries": 30, "interval_start": 0.5, "interval_step": 1.0, "interval_max": 5.0})


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


def create_job(settings: Settings, inputs: dict[str, Any], callback: dict[str, str] | None = None) -> str:
    """Record a job owned by ``inputs["tenant"]`` (``default`` when absent; it must exist), with its
    ``callback`` (``{"url", "secret"}`` from ``callbacks.new_callback``) in the same transaction, so a job
    that ends at once still has it."""
    ensure_schema(settings.resolved_database_url)
    job_id = new_job_id()
    with session_scope(settings.resolved_database_url) as session:
        tenant = require_tenant(session, inputs.get("tenant"))
        session.add(ScanJob(id=job_id, inputs={**inputs, "tenant": tenant}, tenant=tenant,
                            bundle_version=bundle_version(settings), status="queued"))
        if callback is not None:
            from provenance.pipeline.callbacks import seal_secret

            session.flush()
            session.add(JobCallback(job_id=job_id, url=callback["url"],
                                    secret=seal_secret(settings, callback["secret"], job_id),
                                    status="pending", attempts=0, next_attempt_at=utcnow()))
    return job_id


def _insert_ignore_documents(session: Session, rows: list[tuple[str, str | None, int, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: concurrent submitters may meet the same text."""
    columns = ("content_hash", "source_id", "num_chars", "created_at")
    if session.get_bind().dialect.name in ("postgresql", "sqlite"):
        bulk_insert(session, Document.__table__, columns, rows, ignore_conflict_on="content_hash")
        return
    hashes = [row[0] for row in rows]
    existing = set(session.scalars(select(Document.content_hash).where(Document.content_hash.in_(hashes))))
    session.add_all(Document(**dict(zip(columns, r, strict=True))) for r in rows if r[0] not in existing)


def _commit_batch(settings: Settings, job_id: str, batch: list[InputRecord]) -> list[int]:
    """Record one batch in one transaction; returns the ids of the chunks to send (empty when nothing needs
    scoring). Rows go in as bulk inserts and the staged texts are cut into chunks of ``scan_chunk_size``, so a
    transaction can hold many chunks (fewer commits is what lets reading + staging outrun 20,000 records/s)."""
    url = settings.resolved_database_url
    with session_scope(url) as session:
        job = session.get(ScanJob, job_id, with_for_update=True)
        hashes = {record.seq: text_sha256(record.text) for record in batch if record.text is not None}
        now = utcnow()
        stamp = _bind_value(session, Document.__table__.c.created_at, now)
        documents = dict(session.execute(_DOCUMENT_IDS, {"hashes": list(set(hashes.values()))}).all())
        # Only documents that existed before this batch can have been seen earlier in the job or judged:
        # a dump of new texts never asks (and the job's own items, which grow with the job, are never scanned).
        known = list(set(documents.values()))
        fresh: dict[str, tuple[str, str | None, int, Any]] = {}
        for record in batch:
            digest = hashes.get(record.seq)
            if digest is not None and digest not in documents and digest not in fresh:
                fresh[digest] = (digest, record.source_id, len(record.text), stamp)
        if fresh:
            _insert_ignore_documents(session, list(fresh.values()))
            documents.update(session.execute(_DOCUMENT_IDS, {"hashes": list(fresh)}).all())
        seen_in_job = set(session.scalars(_SEEN_IN_JOB, {"job_id": job_id.lower(), "ids": known})) if known else set()
        judged = set(session.scalars(_JUDGED, {"ids": known, "version": job.bundle_version})) if known else set()
        staged: list[tuple[int, str]] = []
        items: list[tuple[Any, ...]] = []  # in ITEM_COLUMNS order
        counts = {"quarantined": 0, "duplicates": 0, "documents": 0, "reused": 0}
        for record in batch:
            if record.text is None:
                kept = record.excerpt if settings.store_raw_text else shape_excerpt(record.excerpt)
                items.append((job_id, record.seq, record.source_id, "quarantined", None, record.reason,
                              record.location[:1024], kept))
                counts["quarantined"] += 1
                continue
            doc_id = documents[hashes[record.seq]]
            if doc_id in seen_in_job:
                items.append((job_id, record.seq, record.source_id, "duplicate", doc_id, None, None, None))
                counts["duplicates"] += 1
                continue
            seen_in_job.add(doc_id)
            items.append((job_id, record.seq, record.source_id, "document", doc_id, None, None, None))
            counts["documents"] += 1
            if doc_id in judged:
                counts["reused"] += 1
            else:
                staged.append((doc_id, record.text))
        bulk_insert(session, JobItem.__table__, ITEM_COLUMNS, items)
        chunks = stage_chunks(session, job_id, staged, settings.scan_chunk_size)
        job.total += len(batch)
        job.quarantined += counts["quarantined"]
        job.duplicates += counts["duplicates"]
        job.documents += counts["documents"]
        job.reused += counts["reused"]
        job.chunks_total += len(chunks)
        if batch[-1].cursor is not None:  # where --resume starts reading: after the last committed record
            job.inputs = {**job.inputs, "cursor": {**batch[-1].cursor, "seq": batch[-1].seq + 1}}
        if job.status == "queued":
            job.status, job.started_at = "running", job.started_at or now
        return [chunk.id for chunk in chunks]


def _pending_chunks(settings: Settings, job_id: str) -> int:
    with session_scope(settings.resolved_database_url) as session:
        return session.scalar(select(func.count()).select_from(Chunk)
                              .where(Chunk.job_id == job_id, Chunk.status != "done")) or 0


_END = object()


def _read_ahead(batches: Iterator[list[InputRecord]], depth: int = 2) -> Iterator[list[InputRecord]]:
    """Read the next batches in a thread while this one is staged: decompression and SQLite release the GIL,
    so reading and writing overlap. At most ``depth`` batches wait (bounded memory); an error in the reader is
    raised here, and leaving early (Ctrl-C, a failed commit) stops the reader and closes its files."""
    waiting: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=run, name="scan-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = waiting.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)


def records_per_commit(settings: Settings) -> int:
    """Records per submission transaction: a whole number of chunks, about ``RECORDS_PER_COMMIT`` records."""
    size = settings.scan_chunk_size
    return size * max(1, RECORDS_PER_COMMIT // size)


def feed(settings: Settings, job_id: str, records: Iterable[InputRecord], *,
         progress: ProgressCallback | None = None) -> None:
    """Commit and send ``records`` batch by batch, with back-pressure; then mark the submission complete."""
    for batch in _read_ahead(chunked(records, records_per_commit(settings))):
        while _pending_chunks(settings, job_id) >= settings.scan_max_pending_chunks:
            recover_job(settings, job_id, lambda chunk_id: send_chunk(settings, chunk_id))
            time.sleep(0.5)
        for chunk_id in _commit_batch(settings, job_id, batch):
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


def submit_records(settings: Settings, records: Iterable[dict[str, Any]], *, inputs: dict[str, Any],
                   callback: dict[str, str] | None = None) -> str:
    """Scan in-memory records (``{"id"?, "text"}``, e.g. from the API). Returns the job id."""
    job_id = create_job(settings, {**inputs, "kind": "records"}, callback)
    feed(settings, job_id, _records_from_dicts(records, ReaderOptions(max_chars=settings.scan_max_chars)))
    return job_id


def reader_for(settings: Settings, inputs: dict[str, Any],
               paths: Sequence[str | Path] | None = None) -> RecordReader:
    """A reader of the job's inputs; ``paths`` (the caller's own path objects, e.g. the API's descriptor-pinned
    files) replaces the recorded strings so that what is read is what was checked."""
    options = ReaderOptions(format=inputs.get("format", "auto"), text_field=inputs.get("text_field", "text"),
                            id_field=inputs.get("id_field", "id"), max_chars=settings.scan_max_chars)
    return RecordReader(inputs["paths"] if paths is None else paths, options)


def _recorded_path(path: str | Path) -> str:
    """The path a job records: resolved, except a descriptor-pinned file (recorded as requested, not re-resolved
    through whatever the name points at now)."""
    if hasattr(path, "release"):
        return str(path)
    return str(Path(path).expanduser().resolve())


def path_inputs(paths: Sequence[str | Path], *, format: str = "auto", text_field: str = "text",
                id_field: str = "id", tenant: str | None = None) -> dict[str, Any]:
    return {"kind": "paths", "paths": [_recorded_path(p) for p in paths], "format": format,
            "text_field": text_field, "id_field": id_field, "tenant": tenant}


def submit_paths(settings: Settings, paths: Sequence[str | Path], *, format: str = "auto", text_field: str = "text",
                 id_field: str = "id", progress: ProgressCallback | None = None,
                 on_job: Callable[[str], None] | None = None, tenant: str | None = None,
                 callback: dict[str, str] | None = None) -> str:
    """Scan files and directories for ``tenant`` (``default`` when None). ``on_job`` hears the job id as soon as
    it exists (for Ctrl-C messages)."""
    inputs = path_inputs(paths, format=format, text_field=text_field, id_field=id_field, tenant=tenant)
    reader = reader_for(settings, inputs, paths)  # validates paths and options before a job is recorded
    job_id = create_job(settings, inputs, callback)
    if on_job is not None:
        on_job(job_id)
    feed(settings, job_id, iter(reader), progress=progress)
    return job_id


def resume(settings: Settings, job_id: str, *, progress: ProgressCallback | None = None) -> int:
    """Continue an interrupted submission where its last committed batch ended; re-send unfinished chunks.
    Returns the number of records skipped (already committed).

    The job's ``inputs["cursor"]`` (written with every batch) names the path, the file inside a directory and
    the position in that file after the last committed record: a byte offset in the decompressed content for
    JSONL/CSV/text (seeked when uncompressed; decompressed and discarded, never parsed, when compressed), a row
    group and row for Parquet, a record offset for WARC. Reading starts there."""
    ensure_schema(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as session:
        job = session.get(ScanJob, job_id)
        if job is None:
            raise ProvenanceError(f"no scan job {job_id!r}", hint="list jobs with provenance jobs list")
        inputs, committed, complete = dict(job.inputs or {}), job.total, job.submission_done
    recover_job(settings, job_id, lambda chunk_id: send_chunk(settings, chunk_id), force=True)
    if complete:
        return committed
    if inputs.get("kind") != "paths":
        raise ProvenanceError(f"job {job_id} was submitted from request records, which cannot be read again",
                              hint="submit the records again as a new scan")
    reader = reader_for(settings, inputs)
    cursor = inputs.get("cursor")
    if cursor is not None and cursor.get("seq") == committed:
        records = reader.records(start=cursor, seq=committed)  # straight to where the last commit ended
    else:  # no cursor (job from an older version): read again from the top, skipping what was committed
        records = (record for record in reader.records() if record.seq >= committed)
    if progress is not None:
        progress(committed)
    feed(settings, job_id, records, progress=progress)
    return committed
