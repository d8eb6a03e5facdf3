"""Ledger bands carry their manifest's tenant, and the (band, bucket) index becomes (band, bucket, tenant): a
tenant's ledger lookup no longer joins ``manifests`` before the band condition (which read every band row of
the tenant per lookup: tens of milliseconds on a few dozen manifests, 128 rows per manifest at scale). The
whole-ledger lookup uses the index's (band, bucket) prefix, so one index serves both. Existing rows are filled
in from their manifest.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_manifest_bands_bucket_tenant"
OLD_INDEX = "ix_manifest_bands_bucket"


def upgrade() -> None:
    # A plain ADD COLUMN (no batch rebuild): SQLite and PostgreSQL both add a NOT NULL column with a constant
    # default in place, without copying a table that holds 128 rows per manifest.
    op.add_column("manifest_bands", sa.Column("tenant", sa.String(length=64), nullable=False,
                                              server_default="default"))
    op.execute("UPDATE manifest_bands SET tenant = (SELECT m.tenant FROM manifests m "
               "WHERE m.id = manifest_bands.manifest_id) "
               "WHERE EXISTS (SELECT 1 FROM manifests m WHERE m.id = manifest_bands.manifest_id "
               "AND m.tenant <> 'default')")
    op.create_index(INDEX, "manifest_bands", ["band", "bucket", "tenant"], unique=False)
    op.drop_index(OLD_INDEX, table_name="manifest_bands")


def downgrade() -> None:
    op.create_index(OLD_INDEX, "manifest_bands", ["band", "bucket"], unique=False)
    op.drop_index(INDEX, table_name="manifest_bands")
    with op.batch_alter_table("manifest_bands", schema=None) as batch_op:
        batch_op.drop_column("tenant")
