"""Ledger band rows carry one integer key, ``band_key = band << 53 | value``, in place of the (band, bucket
string) pair, and the (band, bucket, tenant) index becomes (band_key, tenant).

A lookup's probes become one list of integers the index is searched with (a containment query sends 2,048):
no string compares, a smaller index, and one statement whatever the number of values per band. MinHash values
keep 53 bits and there are 128 bands, so the key fits in 60 bits and distinct (band, value) pairs never share
one. Existing rows are converted with one rewrite of the table: on SQLite a keyed copy replaces it (an UPDATE
and then the batch copy that drops the old columns rewrote 128 rows per manifest twice, with a write-ahead log
the size of the table each time); on PostgreSQL an UPDATE after the old index is dropped (so the rewrite does
not maintain it), the old columns then dropped (a catalogue change). Downgrade splits the key back into band
and bucket.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 04:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_manifest_bands_key_tenant"
OLD_INDEX = "ix_manifest_bands_bucket_tenant"
BAND_SHIFT = 1 << 53  # spelled out here: a migration keeps doing what it did when the code around it changes


def upgrade() -> None:
    op.drop_index(OLD_INDEX, table_name="manifest_bands")
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_by_copy()
        return
    op.add_column("manifest_bands", sa.Column("band_key", sa.BigInteger(), nullable=True))
    op.execute(f"UPDATE manifest_bands SET band_key = band * {BAND_SHIFT} + CAST(bucket AS BIGINT)")
    with op.batch_alter_table("manifest_bands", schema=None) as batch_op:
        batch_op.alter_column("band_key", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column("band")
        batch_op.drop_column("bucket")
    op.create_index(INDEX, "manifest_bands", ["band_key", "tenant"], unique=False)


def _upgrade_by_copy() -> None:
    """SQLite: the keyed rows written once into a new table that then takes the old one's name and indexes."""
    op.create_table(
        "manifest_bands_keyed",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("manifest_id", sa.String(length=64), nullable=False),
        sa.Column("band_key", sa.BigInteger(), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False, server_default="default"),
        sa.ForeignKeyConstraint(["manifest_id"], ["manifests.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(f"INSERT INTO manifest_bands_keyed (id, manifest_id, band_key, tenant) "
               f"SELECT id, manifest_id, band * {BAND_SHIFT} + CAST(bucket AS INTEGER), tenant FROM manifest_bands")
    op.drop_table("manifest_bands")
    op.rename_table("manifest_bands_keyed", "manifest_bands")
    op.create_index("ix_manifest_bands_manifest_id", "manifest_bands", ["manifest_id"], unique=False)
    op.create_index(INDEX, "manifest_bands", ["band_key", "tenant"], unique=False)


def downgrade() -> None:
    op.add_column("manifest_bands", sa.Column("band", sa.Integer(), nullable=True))
    op.add_column("manifest_bands", sa.Column("bucket", sa.String(length=40), nullable=True))
    op.execute(f"UPDATE manifest_bands SET band = CAST(band_key / {BAND_SHIFT} AS INTEGER), "
               f"bucket = CAST(band_key % {BAND_SHIFT} AS VARCHAR(40))")
    op.drop_index(INDEX, table_name="manifest_bands")
    with op.batch_alter_table("manifest_bands", schema=None) as batch_op:
        batch_op.alter_column("band", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("bucket", existing_type=sa.String(length=40), nullable=False)
        batch_op.drop_column("band_key")
    op.create_index(OLD_INDEX, "manifest_bands", ["band", "bucket", "tenant"], unique=False)
