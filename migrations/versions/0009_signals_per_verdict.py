"""Verdicts stored per signal: every signal's record under ``signals[name]`` and its version under
``versions[name]``, the built-in ones included; the columns that only held a built-in signal's detail are dropped.

Upgrade, in batches of ``BATCH`` rows (SQLite and PostgreSQL alike): each row's detection, PII, toxicity,
watermark and ledger-lookup records are built from the old columns and merged into ``signals`` (a registered
signal's record already there stays); ``versions`` gains the ledger lookup's version, and a row written before
versions were recorded (NULL) gets them from its ``models`` column, which names exactly what produced it
(bundle, PII operator, watermark keys, toxicity bundle). Then ``detectors``, ``reasons``, ``num_tokens``,
``watermark``, ``watermark_p``, ``watermark_key_id``, ``pii`` and ``toxicity`` are dropped: the record is the
one copy (two copies drift). The indexed columns (``p_machine``, ``verdict``, ``margin``, ``watermarked``,
``watermark_z``, ``ledger_manifest_id``, ``pii_count``, ``pii_types``, ``p_toxic``, ``misuse``) stay as they were.

Downgrade restores the dropped columns from the records (and takes the built-in records and the ledger
lookup's version back out), so the previous code reads every row, those written since included.

The shapes are spelled out here rather than imported: a migration must keep doing what it did when the code
around it changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
LEDGER_VERSION = "ledger:exact+minhash128+containment"  # the ledger lookup's version when this revision was written
BUILT_IN = ("detection", "pii", "toxicity", "watermark", "provenance")
LEGACY = ("detectors", "reasons", "num_tokens", "watermark", "watermark_p", "watermark_key_id", "pii", "toxicity")
_KEPT = ("id", "bundle_version", "p_machine", "verdict", "margin", "ledger_manifest_id", "pii_count", "pii_types",
         "models", "signals", "versions")


def _table(columns: Sequence[str]) -> sa.TableClause:
    json_columns = {"detectors", "reasons", "watermark", "pii", "toxicity", "models", "signals", "versions"}
    return sa.table("verdicts", *[sa.column(name, sa.JSON(none_as_null=True) if name in json_columns else None)
                                  for name in columns])


def _rewrite(read: Sequence[str], convert: Callable[[Any], dict[str, Any]]) -> None:
    """Every verdict row, keyset-paged by id, updated with ``convert(row)``."""
    bind = op.get_bind()
    source = _table(read)
    last = 0
    while True:
        rows = bind.execute(sa.select(*source.c).where(source.c.id > last).order_by(source.c.id).limit(BATCH)).all()
        if not rows:
            return
        updates = [{"row_id": row.id, **convert(row)} for row in rows]
        target = _table(["id", *updates[0].keys() - {"row_id"}])
        bind.execute(sa.update(target).where(target.c.id == sa.bindparam("row_id")), updates)
        last = rows[-1].id


def _versions_from_models(row: Any) -> dict[str, Any] | None:
    """What the document signals recorded as their versions, read back from ``models`` (None when it is empty:
    a row from before ``models`` was filled in)."""
    models = row.models if isinstance(row.models, dict) else {}
    if "pii_operator" not in models:
        return None
    return {"detection": models.get("bundle") or row.bundle_version.split("+", 1)[0],
            "pii": f"operator:{models['pii_operator']}", "toxicity": models.get("toxicity"),
            "watermark": ",".join(models.get("watermark_keys") or []) or None}


def _to_records(row: Any) -> dict[str, Any]:
    watermark = dict(row.watermark or {})
    if "provenance" in watermark:
        match = watermark.pop("provenance")
    else:
        match = {"manifest_id": row.ledger_manifest_id} if row.ledger_manifest_id else None
    signals = dict(row.signals or {})
    signals.update({
        "detection": {"p_machine": row.p_machine, "verdict": row.verdict, "margin": row.margin,
                      "detectors": row.detectors or {}, "reasons": row.reasons or [], "num_tokens": row.num_tokens},
        "pii": {"items": row.pii or [], "count": row.pii_count or 0, "types": row.pii_types or ""},
        "toxicity": row.toxicity,
        "watermark": watermark,
        "provenance": match,
    })
    versions = dict(row.versions) if row.versions else _versions_from_models(row)
    if versions is not None:
        versions.setdefault("provenance", LEDGER_VERSION)
    return {"signals": signals, "versions": versions}


def _from_records(row: Any) -> dict[str, Any]:
    signals = dict(row.signals or {})
    detection = signals.pop("detection", None) or {}
    pii = signals.pop("pii", None) or {}
    toxicity = signals.pop("toxicity", None)
    watermark = dict(signals.pop("watermark", None) or {})
    watermark["provenance"] = signals.pop("provenance", None)
    versions = {k: v for k, v in (row.versions or {}).items() if k != "provenance"} if row.versions else None
    return {"detectors": detection.get("detectors") or {}, "reasons": detection.get("reasons") or [],
            "num_tokens": detection.get("num_tokens"), "watermark": watermark,
            "watermark_p": watermark.get("p_value"), "watermark_key_id": watermark.get("key_id"),
            "pii": pii.get("items") or [], "toxicity": toxicity, "signals": signals, "versions": versions}


def upgrade() -> None:
    _rewrite([*_KEPT, *LEGACY], _to_records)
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        for name in LEGACY:
            batch_op.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("detectors", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("reasons", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("num_tokens", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("watermark", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("watermark_p", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("watermark_key_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("pii", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("toxicity", sa.JSON(), nullable=True))
    _rewrite(_KEPT, _from_records)
    with op.batch_alter_table("verdicts", schema=None) as batch_op:  # NOT NULL as revision 0001 made them
        for name in ("detectors", "reasons", "watermark", "pii"):
            batch_op.alter_column(name, existing_type=sa.JSON(), nullable=False)
