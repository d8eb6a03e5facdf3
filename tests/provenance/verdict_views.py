"""The three read views of stored verdicts (``verdicts export`` JSONL and Parquet, ``GET /v1/verdicts/{id}`` and
``GET /v1/jobs/{id}/verdicts``) captured as one JSON-able object, and invented verdict rows written the way the
pipeline wrote them before verdicts were stored per signal (revision 0008's columns).

``tests/provenance/data/verdict_views_*.json`` hold what main's readers returned for the same rows and the same
scan before the storage changed (``python -m tests.provenance.verdict_views capture``); the contract tests
compare today's readers with them. Every value here is invented.
"""

from __future__ import annotations

import io
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from provenance.settings import Settings

DATA = Path(__file__).resolve().parent / "data"
LEGACY_JOB = "job-legacy-views"
CREATED = datetime(2026, 12, 1, 9, 30, 0)

_WATERMARK_EVIDENCE = {"offsets": [0, 4, 5, 9, 10, 15], "green": "1-0", "spans": [[0, 9, 0.0123]],
                       "windowed_p_value": 0.0456, "green_fraction": 0.5}

# (document text, verdict columns as the pipeline wrote them up to revision 0008)
LEGACY_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("Invented machine-like note about the lantern festival, with a contact address.", {
        "p_machine": 0.91234, "verdict": "machine", "margin": 0.04321,
        "detectors": {"perplexity": 0.812, "classifier": 0.955, "fast_detectgpt": None},
        "reasons": ["ensemble above the machine threshold"], "num_tokens": 17,
        "watermark": {"z_score": 5.25, "p_value": 7.6e-08, "watermarked": True, "key_id": "wm-invented01",
                      "num_tokens_scored": 16, "green_fraction": 0.81, "scheme": "selfhash",
                      "evidence": _WATERMARK_EVIDENCE,
                      "provenance": {"manifest_id": "man-own-0001", "kind": "exact", "similarity": 1.0}},
        "watermarked": True, "watermark_z": 5.25, "watermark_p": 7.6e-08, "watermark_key_id": "wm-invented01",
        "ledger_manifest_id": "man-own-0001",
        "pii": [{"type": "EMAIL_ADDRESS", "start": 62, "end": 77, "score": 1.0},
                {"type": "PERSON", "start": 10, "end": 18, "score": 0.85}],
        "pii_count": 2, "pii_types": ",EMAIL_ADDRESS,PERSON,",
        "toxicity": {"p_toxic": 0.61, "toxic": False, "categories": {"insult": 0.2}},
        "p_toxic": 0.61, "misuse": True,
        "models": {"bundle": "bundle-a", "pii_operator": "replace", "watermark_keys": ["wm-invented01"],
                   "toxicity": "tox-v1", "scorer": {"name": "micro", "weights_sha256": "ab" * 32}},
        "signals": {"vowels": {"vowel_share": 0.4125}},
        "versions": {"detection": "bundle-a", "pii": "operator:replace", "toxicity": "tox-v1",
                     "watermark": "wm-invented01", "vowels": "vowels:1"},
        "needs_review": True, "review_priority": 5.5}),
    ("An invented plain paragraph about rainfall in a valley town, written before versions were kept.", {
        "p_machine": 0.1002, "verdict": "human", "margin": 0.2998, "detectors": {"perplexity": 0.1},
        "reasons": [], "num_tokens": 19,
        "watermark": {"z_score": 0.31, "p_value": 0.378, "watermarked": False, "key_id": None,
                      "num_tokens_scored": 18, "provenance": None},
        "watermarked": False, "watermark_z": 0.31, "watermark_p": 0.378, "watermark_key_id": None,
        "ledger_manifest_id": None, "pii": [], "pii_count": 0, "pii_types": "", "toxicity": None, "p_toxic": None,
        "misuse": False, "models": {"bundle": "bundle-a", "pii_operator": "replace"}, "signals": None,
        "versions": None, "needs_review": False, "review_priority": 0.0}),
    ("Invented short text matched in another tenant's ledger.", {
        "p_machine": None, "verdict": "abstain", "margin": None, "detectors": {},
        "reasons": ["no detector bundle: run provenance detect train"], "num_tokens": None,
        "watermark": {"z_score": None, "p_value": None, "watermarked": False, "key_id": None,
                      "abstain_reason": "no watermark keys in this data directory", "num_tokens_scored": 0,
                      "provenance": {"manifest_id": "man-other-0001", "kind": "near_duplicate",
                                     "similarity": 0.7188}},
        "watermarked": False, "watermark_z": None, "watermark_p": None, "watermark_key_id": None,
        "ledger_manifest_id": "man-other-0001", "pii": [{"type": "PHONE_NUMBER", "start": 3, "end": 17,
                                                          "score": 0.75}],
        "pii_count": 1, "pii_types": ",PHONE_NUMBER,", "toxicity": {"p_toxic": 0.02, "toxic": False,
                                                                     "categories": {}, "note": "short text"},
        "p_toxic": 0.02, "misuse": False, "models": {"bundle": "bundle-a", "pii_operator": "hash"},
        "signals": {}, "versions": {"detection": "bundle-a", "pii": "operator:hash", "toxicity": None,
                                    "watermark": None},
        "needs_review": True, "review_priority": 0.2}),
    ("Invented row from the first schema: an empty watermark object and nothing else filled in.", {
        "p_machine": 0.5, "verdict": "uncertain", "margin": 0.0, "detectors": {}, "reasons": [],
        "num_tokens": 20, "watermark": {}, "watermarked": False, "watermark_z": None, "watermark_p": None,
        "watermark_key_id": None, "ledger_manifest_id": None, "pii": [], "pii_count": 0, "pii_types": "",
        "toxicity": None, "p_toxic": None, "misuse": False, "models": {}, "signals": None, "versions": None,
        "needs_review": True, "review_priority": 3.0}),
]


def insert_legacy_rows(url: str) -> list[int]:
    """The invented rows, their documents, job, job items and manifests, written with plain SQL against the
    tables as they are (revision 0008's shape); returns the verdict ids in order."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            meta = sa.MetaData()
            table = {name: sa.Table(name, meta, autoload_with=connection)
                     for name in ("documents", "scan_jobs", "job_items", "verdicts", "manifests")}
            connection.execute(table["scan_jobs"].insert(), [{
                "id": LEGACY_JOB, "status": "done", "tenant": "default", "inputs": {}, "bundle_version": "bundle-a",
                "total": len(LEGACY_ROWS), "quarantined": 0, "duplicates": 0, "documents": len(LEGACY_ROWS),
                "reused": 0, "chunks_total": 1, "chunks_done": 1, "new_verdicts": len(LEGACY_ROWS),
                "submission_done": True, "created_at": CREATED, "started_at": CREATED, "finished_at": CREATED,
                "last_progress_at": CREATED}])
            for manifest_id, tenant in (("man-own-0001", "default"), ("man-other-0001", "other")):
                connection.execute(table["manifests"].insert(), [{
                    "id": manifest_id, "text_sha256": manifest_id.ljust(64, "0"), "tenant": tenant,
                    "model_name": "invented", "watermark_key_id": None, "requester": None,
                    "body": {"id": manifest_id}, "minhash": [], "created_at": CREATED}])
            ids = []
            for index, (text, columns) in enumerate(LEGACY_ROWS, start=1):
                connection.execute(table["documents"].insert(), [{
                    "id": index, "content_hash": f"{index:064d}", "source_id": f"first-{index}",
                    "num_chars": len(text), "redacted_text": text, "raw_text": None, "created_at": CREATED}])
                connection.execute(table["job_items"].insert(), [{
                    "job_id": LEGACY_JOB, "seq": index - 1, "source_id": f"rec-{index}", "outcome": "document",
                    "document_id": index}])
                connection.execute(table["verdicts"].insert(), [{
                    "id": 100 + index, "document_id": index, "bundle_version": "bundle-a", "job_id": LEGACY_JOB,
                    "review_status": None, "created_at": CREATED, **columns}])
                ids.append(100 + index)
        return ids
    finally:
        engine.dispose()


def _plain(value: Any) -> Any:
    """JSON-comparable: NaN spelled out, tuples as lists."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def capture(settings: Settings, job_id: str, verdict_ids: list[int]) -> dict[str, Any]:
    """What every read view returns for the job and the verdicts, with the API's per-call values removed
    (``created_at`` of a verdict written now, the reading key's tenant stays)."""
    import pyarrow.parquet as pq
    from fastapi.testclient import TestClient

    from provenance.api import create_app
    from provenance.apikeys import create_api_key
    from provenance.pipeline.export import iter_verdicts
    from provenance.pipeline.export_writers import write_jsonl, write_parquet

    lines = io.StringIO()
    write_jsonl(iter_verdicts(settings, job_id), lines)
    every = io.StringIO()
    write_jsonl(iter_verdicts(settings), every)
    parquet = io.BytesIO()
    write_parquet(iter_verdicts(settings, job_id), parquet)
    parquet.seek(0)
    table = pq.read_table(parquet)
    _, key = create_api_key(settings.resolved_database_url, name="views", scopes="scan")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings)) as client:
        records = {}
        for verdict_id in verdict_ids:
            answer = client.get(f"/v1/verdicts/{verdict_id}", headers=headers)
            assert answer.status_code == 200, answer.text
            records[str(verdict_id)] = answer.json()
        page = client.get(f"/v1/jobs/{job_id}/verdicts", headers=headers, params={"limit": 1000})
        assert page.status_code == 200, page.text
    return _plain({
        "export_jsonl": [json.loads(line) for line in lines.getvalue().splitlines()],
        "export_all_jsonl": [json.loads(line) for line in every.getvalue().splitlines()],
        "parquet_schema": str(table.schema),
        "parquet_rows": table.to_pylist(),
        "api_verdicts": records,
        "api_job_page": page.json(),
    })


def without(view: Any, keys: set[str]) -> Any:
    """``view`` with every dict key in ``keys`` removed, at any depth (values that differ per run)."""
    if isinstance(view, dict):
        return {k: without(v, keys) for k, v in view.items() if k not in keys}
    if isinstance(view, list):
        return [without(v, keys) for v in view]
    return view


def close(actual: Any, expected: Any, path: str = "") -> list[str]:
    """Where ``actual`` differs from ``expected``: same keys in the same order, same types, equal values (floats
    to 1e-9 relative: the stored numbers round-trip through JSON and the database)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not an object"]
        problems = [f"{path}: keys {list(actual)} != {list(expected)}"] if list(actual) != list(expected) else []
        for key in expected:
            if key in actual:
                problems += close(actual[key], expected[key], f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {actual!r} != {expected!r}"]
        return [p for i, (a, e) in enumerate(zip(actual, expected, strict=True)) for p in close(a, e, f"{path}[{i}]")]
    if isinstance(expected, float) and isinstance(actual, float):
        same = math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)
        return [] if same else [f"{path}: {actual} != {expected}"]
    if type(actual) is not type(expected) or actual != expected:
        return [f"{path}: {actual!r} != {expected!r}"]
    return []
