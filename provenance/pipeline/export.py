"""Verdict export: one record per document (the contract line), streamed from the database in pages, written as
JSONL, CSV or Parquet (typed columns; watermark, detector scores and PII findings as nested fields) to a stream
or a file. Memory is bounded by one page of verdicts plus one Parquet row group, whatever the export's size."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from provenance.errors import ProvenanceError
from provenance.pipeline.jobs import job_verdict
from provenance.review.labels import latest_decisions
from provenance.settings import Settings
from provenance.store import Document, JobItem, ScanJob, VerdictRow, session_scope

PAGE = 1000
PII_KEYS = ("type", "start", "end", "original_start", "original_end", "operator")
CSV_COLUMNS = ("document_id", "source_id", "p_machine", "verdict", "watermark_z_score", "watermark_p_value",
               "watermarked", "watermark_key_id", "pii_count", "pii_types", "p_toxic", "misuse", "content_hash",
               "bundle_version", "ledger_manifest_id", "decision")


def verdict_record(verdict: VerdictRow, document: Document, source_id: str | None,
                   decision: str | None = None) -> dict[str, Any]:
    wm = verdict.watermark or {}
    return {
        "document_id": document.id,
        "source_id": source_id,
        "p_machine": verdict.p_machine,
        "verdict": verdict.verdict,
        "watermark": {"z_score": wm.get("z_score"), "p_value": wm.get("p_value"),
                      "watermarked": bool(wm.get("watermarked")), "key_id": wm.get("key_id")},
        "pii_count": verdict.pii_count,
        "pii_types": [t for t in (verdict.pii_types or "").split(",") if t],
        "p_toxic": verdict.p_toxic,
        "misuse": verdict.misuse,
        "detectors": verdict.detectors,
        "pii": [{key: item.get(key) for key in PII_KEYS} for item in verdict.pii or []],
        "content_hash": document.content_hash,
        "bundle_version": verdict.bundle_version,
        "ledger_manifest_id": verdict.ledger_manifest_id,
        "verdict_id": verdict.id,
        "decision": decision,  # the document's latest review decision, if any
        "signals": verdict.signals or {},  # {name: record} of registered signals without columns of their own
        "versions": verdict.versions or {},  # {name: version} of every signal that judged it
    }


def csv_row(record: dict[str, Any]) -> list[Any]:
    flat = {**record, "watermark_z_score": record["watermark"]["z_score"],
            "watermark_p_value": record["watermark"]["p_value"], "watermarked": record["watermark"]["watermarked"],
            "watermark_key_id": record["watermark"]["key_id"], "pii_types": ";".join(record["pii_types"])}
    return [flat.get(column) for column in CSV_COLUMNS]


def iter_verdicts(settings: Settings, job_id: str | None = None) -> Iterator[dict[str, Any]]:
    """A job's documents in input order (first sighting), or every verdict in the store."""
    url = settings.resolved_database_url
    last = -1
    with session_scope(url) as session:
        if job_id is not None:
            job = session.get(ScanJob, job_id)
            if job is None:
                raise ProvenanceError(f"no scan job {job_id!r}", hint="list jobs with provenance jobs list")
            version = job.bundle_version
    while True:
        with session_scope(url) as session:
            if job_id is not None:
                rows = session.execute(
                    select(JobItem.seq, VerdictRow, Document, JobItem.source_id)
                    .join(Document, Document.id == JobItem.document_id)
                    .join(VerdictRow, job_verdict(job_id, version))
                    .where(JobItem.job_id == job_id, JobItem.outcome == "document", JobItem.seq > last)
                    .order_by(JobItem.seq).limit(PAGE)).all()
            else:
                rows = session.execute(
                    select(VerdictRow.id, VerdictRow, Document, Document.source_id)
                    .join(Document, Document.id == VerdictRow.document_id)
                    .where(VerdictRow.id > last).order_by(VerdictRow.id).limit(PAGE)).all()
            if not rows:
                return
            decisions = latest_decisions(session, [document.id for _key, _verdict, document, _source in rows])
            for _key, verdict, document, source_id in rows:
                yield verdict_record(verdict, document, source_id, decisions.get(document.id))
            last = rows[-1][0]
