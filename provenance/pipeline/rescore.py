"""Re-judge a finished job with the active detector bundle, or with any signal whose version changed
(``provenance scan --resume JOB --rescore``).

Verdicts are unique per document *and bundle version*, so the new bundle's verdicts are written beside the old
ones, which stay (the audit trail, the review decisions made on them, and ``promote PREVIOUS`` all need them).
The job then points at the new version, so ``jobs show`` and ``verdicts export --job`` report the new verdicts.

When the detector bundle is the same but another signal's version differs from the ``versions`` its verdicts
recorded (a new toxicity bundle, rotated watermark keys, a new version of a registered signal), the job is
judged again under ``<bundle version>+<digest of every signal's version>``, so the new verdicts sit beside the
old ones exactly as after a retrain. Migration 0009 filled in the versions of verdicts written before they were
recorded, from what their ``models`` column says produced them; a verdict without either (NULL) is not compared.

The text comes from the store when it kept the raw text; otherwise the job's input files are read again and
matched by content hash (texts are never staged longer than their scoring).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import delete, select

from generator.stamping import text_sha256
from provenance.bundles import NO_BUNDLE, bundle_version
from provenance.errors import ProvenanceError
from provenance.pipeline.submission import stage_chunks
from provenance.settings import Settings
from provenance.store import Chunk, Document, JobItem, ScanJob, VerdictRow, ensure_schema, session_scope


def _texts_from_inputs(settings: Settings, inputs: dict[str, Any], wanted: dict[str, int]) -> dict[int, str]:
    """Read the job's files again and keep the texts whose hash is wanted (hash -> document id)."""
    from provenance.pipeline.submission import reader_for

    found: dict[int, str] = {}
    for record in reader_for(settings, inputs):
        if record.text is None:
            continue
        doc_id = wanted.get(text_sha256(record.text))
        if doc_id is not None and doc_id not in found:
            found[doc_id] = record.text
            if len(found) == len(wanted):
                break
    return found


def signal_versions_digest(versions: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(versions, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _changed_versions(settings: Settings, session: Any, job: ScanJob) -> dict[str, Any] | None:
    """Every signal's version now (the document signals' and the ledger lookup's), when some verdict of the job
    recorded others; else None."""
    from provenance.signals import signal_set

    stored = session.scalars(select(VerdictRow.versions).join(JobItem, JobItem.document_id == VerdictRow.document_id)
                             .where(JobItem.job_id == job.id, VerdictRow.bundle_version == job.bundle_version)).all()
    recorded = [versions for versions in stored if versions]
    if not recorded:
        return None
    signals = signal_set(settings)
    current = {**signals.versions(options={"watermark": {"evidence": True}}),
               "provenance": signals.get("provenance").version}  # every signal a verdict records
    return current if any(versions != current for versions in recorded) else None


def rescore(settings: Settings, job_id: str) -> dict[str, Any]:
    """Stage every document of the job without a verdict from the active bundle; returns what was staged and the
    chunk ids to send."""
    ensure_schema(settings.resolved_database_url)
    version = bundle_version(settings)
    if version == NO_BUNDLE:
        raise ProvenanceError("no detector bundle to rescore with", hint="train one: provenance detect train")
    url = settings.resolved_database_url
    with session_scope(url) as session:
        job = session.get(ScanJob, job_id)
        if job is None:
            raise ProvenanceError(f"no scan job {job_id!r}", hint="list jobs with provenance jobs list")
        if not job.submission_done or job.status in ("queued", "running"):
            raise ProvenanceError(f"job {job_id} is still {job.status}", hint=f"let it finish (provenance scan "
                                  f"--resume {job_id} --wait), then rescore it")
        if job.bundle_version.split("+", 1)[0] == version:
            changed = _changed_versions(settings, session, job)
            if changed is None:
                raise ProvenanceError(f"job {job_id} was already judged by the active bundle {version}",
                                      hint="promote a retrained bundle first: provenance detect promote NAME")
            version = f"{version}+{signal_versions_digest(changed)}"  # another signal changed
        documents = list(session.scalars(select(JobItem.document_id).where(
            JobItem.job_id == job_id, JobItem.outcome == "document").order_by(JobItem.seq)))
        judged = set(session.scalars(select(VerdictRow.document_id).where(
            VerdictRow.document_id.in_(documents), VerdictRow.bundle_version == version))) if documents else set()
        needed = [doc for doc in documents if doc not in judged]
        rows = session.execute(select(Document.id, Document.content_hash, Document.raw_text)
                               .where(Document.id.in_(needed))).all() if needed else []
        texts = {row.id: row.raw_text for row in rows if row.raw_text is not None}
        missing = {row.content_hash: row.id for row in rows if row.raw_text is None}
        inputs, previous = dict(job.inputs or {}), job.bundle_version
    if missing:
        if inputs.get("kind") != "paths":
            raise ProvenanceError(f"{len(missing)} document(s) of job {job_id} came from request records and their "
                                  "raw text was not kept", hint="set PROVENANCE_STORE_RAW_TEXT=1 for jobs you may "
                                  "want to rescore, or submit the records again as a new scan")
        texts.update(_texts_from_inputs(settings, inputs, missing))
        lost = len(needed) - len(texts)
        if lost:
            raise ProvenanceError(f"{lost} document(s) of job {job_id} are no longer in its input files",
                                  hint="restore the files the job read, or scan what is left as a new job")
    size = settings.scan_chunk_size
    staged = [(doc, texts[doc]) for doc in needed]
    with session_scope(url) as session:
        job = session.get(ScanJob, job_id, with_for_update=True)
        session.execute(delete(Chunk).where(Chunk.job_id == job_id, Chunk.status == "done"))
        chunks = stage_chunks(session, job_id, staged, size)
        history = [*inputs.get("previous_bundle_versions", []), previous]
        job.inputs = {**inputs, "previous_bundle_versions": history}
        job.bundle_version = version
        job.chunks_total, job.chunks_done, job.new_verdicts, job.reused = len(chunks), 0, 0, len(judged)
        job.status, job.finished_at = ("running", None) if chunks else ("done", job.finished_at)
    return {"job_id": job_id, "bundle_version": version, "previous_bundle_version": previous,
            "to_score": len(staged), "already_judged": len(judged), "chunk_ids": [chunk.id for chunk in chunks]}
