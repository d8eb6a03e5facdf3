"""The JSON record shapes of ``provenance detect score`` and ``provenance verdicts export``, produced by the very
functions that write those records (fed invented values), with the export's typed columns from its Parquet
schema. The API's records are the OpenAPI schemas (``api_reference``)."""

from __future__ import annotations

from typing import Any

from docsgen.markdown import code, json_block, table

# Invented example values: they show the shape, not a measurement.
EXAMPLE_DETECTORS = {"ensemble": 0.912345, "fast_detectgpt": 2.1, "classifier": 0.8}


def detect_score_examples() -> tuple[dict[str, Any], dict[str, Any]]:
    """A judged line and a bad input line, as `detect score` prints them."""
    from detect.ensemble import Verdict
    from provenance.cli.detect_cmd import _error_record
    from provenance.detection import detection_fields, verdict_record

    verdict = Verdict(p_machine=0.912345, verdict="machine", detectors=dict(EXAMPLE_DETECTORS),
                      reasons=["fast_detectgpt: curvature above the human range"], diagnostics={"tokens": 120})
    watermark_keys = watermark_record_keys()
    judged = verdict_record("post-17", detection_fields(verdict), dict.fromkeys(watermark_keys))
    judged["watermark"].update(watermarked=False, abstain=False)
    bad = _error_record(3, 'line 4: missing string field "text"')
    return judged, bad


def watermark_record_keys() -> list[str]:
    """The keys of one watermark result (``provenance watermark detect --json``, `detect score`'s watermark)."""
    from provenance.watermark_records import DECISION_KEYS, RESULT_KEYS

    return [*RESULT_KEYS, "abstain", "reason", "keys_tested", *DECISION_KEYS]


def export_example() -> dict[str, Any]:
    """One `verdicts export` record built by the exporter from transient (never stored) rows."""
    from provenance.pipeline.export import verdict_record
    from provenance.store import Document, VerdictRow

    document = Document(id=42, content_hash="0" * 64)
    pii = [{"type": "PERSON", "start": 10, "end": 18, "original_start": 10, "original_end": 21, "operator": "replace"}]
    verdict = VerdictRow(id=7, p_machine=0.93, verdict="machine", pii_count=1, pii_types="PERSON", p_toxic=0.02,
                         misuse=False, bundle_version="default:abc123", ledger_manifest_id=None, signals={
                             "detection": {"p_machine": 0.93, "verdict": "machine",
                                           "detectors": dict(EXAMPLE_DETECTORS)},
                             "watermark": {"z_score": 5.2, "p_value": 1.0e-7, "watermarked": True,
                                           "key_id": "wk-example"},
                             "pii": {"items": pii, "count": 1, "types": "PERSON"},
                             "toxicity": {"p_toxic": 0.02, "toxic": False}, "provenance": None})
    return verdict_record(verdict, document, "row-1", decision="machine")


def job_summary_example() -> dict[str, Any]:
    """What `scan --json` (with --wait) and `jobs show --json` print: the summariser run on a throw-away store
    holding one invented, finished job with no documents."""
    import tempfile
    from datetime import datetime
    from pathlib import Path

    from provenance.pipeline.jobs import summarise
    from provenance.store import ScanJob, ensure_schema, session_scope

    with tempfile.TemporaryDirectory(prefix="provenance-docs-") as folder:
        url = f"sqlite:///{Path(folder) / 'example.sqlite'}"
        ensure_schema(url)
        with session_scope(url) as session:
            job = ScanJob(id="3fd6d28521da", status="done", tenant="default", bundle_version="default:abc123",
                          inputs={"kind": "paths", "paths": ["/data/dump.jsonl"], "format": "auto",
                                  "text_field": "text", "id_field": "id"},
                          total=0, submission_done=True, created_at=datetime(2026, 1, 2, 3, 4, 5),
                          started_at=datetime(2026, 1, 2, 3, 4, 5), finished_at=datetime(2026, 1, 2, 3, 4, 6))
            session.add(job)
            session.flush()
            return summarise(session, job, details=True)


def export_columns() -> list[tuple[str, str]]:
    from provenance.pipeline.export_writers import parquet_schema

    return [(field.name, str(field.type)) for field in parquet_schema()]


def csv_columns() -> tuple[str, ...]:
    from provenance.pipeline.export import CSV_COLUMNS

    return CSV_COLUMNS


def render() -> str:
    judged, bad = detect_score_examples()
    example = export_example()
    columns = export_columns()
    return "\n".join([
        "# Record shapes",
        "",
        "Generated at build time (`docsgen/records.py`) by calling the functions that write these records, with",
        "invented values: the *keys and nesting* are the contract, the numbers are not measurements.",
        "",
        "## `provenance detect score`",
        "",
        'Input: JSON Lines of `{"id"?, "text"}`. Output: one line per input line, in input order.',
        "",
        json_block(judged),
        "",
        "`watermark` appears when watermark keys exist for the model (or with `--watermark`); its keys are",
        ", ".join(code(key) for key in watermark_record_keys()) + ". A bad input line is not an error for the",
        "whole run: it gets `verdict: abstain` and an `error`:",
        "",
        json_block(bad),
        "",
        "## `provenance scan --json` and `provenance jobs show --json`",
        "",
        "One object per job, from `provenance.pipeline.jobs.summarise`. `scan` without `--wait` prints it when",
        "submission is done, without `verdicts` and `inputs` (those come with `--wait` and `jobs show`); `status`",
        "is `queued`, `running`, `done` or `failed`:",
        "",
        json_block(job_summary_example()),
        "",
        "## `provenance verdicts export`",
        "",
        "`--format jsonl` prints one object per document:",
        "",
        json_block(example),
        "",
        "`--format parquet` writes the same fields as typed columns:",
        "",
        table(["column", "Arrow type"], [[code(name), code(kind)] for name, kind in columns]),
        "",
        "`--format csv` flattens the watermark and joins `pii_types` with `;`; its columns are "
        + ", ".join(code(name) for name in csv_columns()) + ".",
        "",
        "## The API",
        "",
        "Every API request and response body is a schema of the [HTTP API reference](api.md#schemas), e.g.",
        "[VerifyResponse](api.md#verifyresponse) for `POST /v1/verify`.",
        "",
    ])
