"""Verdict rows for tests that insert them by hand: named the way a reader sees a verdict (``detectors``,
``reasons``, ``watermark``, ``pii``, ``toxicity``... as the export and the records API show them), stored the
way the pipeline stores one (each signal's record under ``signals[name]``, the indexed columns copied out of the
records by ``verdict_fields``). Columns named explicitly win over the computed ones (a test that wants a
particular priority or flag)."""

from __future__ import annotations

from typing import Any

from provenance.pipeline.document_scoring import verdict_fields
from provenance.store.models import VerdictRow

DETAIL = ("detectors", "reasons", "num_tokens", "watermark", "pii", "toxicity", "watermark_p", "watermark_key_id")


def signal_records(columns: dict[str, Any]) -> dict[str, Any]:
    """The built-in signals' records for a verdict described by its flat columns."""
    watermark = dict(columns.get("watermark") or {})
    match = watermark.pop("provenance", None)
    if match is None and columns.get("ledger_manifest_id"):
        match = {"manifest_id": columns["ledger_manifest_id"], "kind": "exact", "similarity": 1.0}
    pii = list(columns.get("pii") or [])
    types = sorted({str(item.get("type")) for item in pii})
    return {
        "detection": {"p_machine": columns.get("p_machine"), "verdict": columns.get("verdict", "abstain"),
                      "margin": columns.get("margin"), "detectors": dict(columns.get("detectors") or {}),
                      "reasons": list(columns.get("reasons") or []), "num_tokens": columns.get("num_tokens")},
        "pii": {"items": pii, "count": len(pii), "types": "," + ",".join(types) + "," if types else ""},
        "toxicity": columns.get("toxicity"),
        "watermark": watermark,
        "provenance": match,
    }


def verdict_row(**columns: Any) -> VerdictRow:
    """A ``VerdictRow`` from flat columns (see the module docstring); ``signals``/``versions`` add records."""
    records = {**signal_records(columns), **(columns.pop("signals", None) or {})}
    versions = columns.pop("versions", None) or {}
    explicit = {key: value for key, value in columns.items() if key not in DETAIL}
    return VerdictRow(**{**verdict_fields(records, versions), **explicit})
