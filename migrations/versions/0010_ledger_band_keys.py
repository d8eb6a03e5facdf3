"""Ledger band rows carry one integer key, ``band_key = band << 53 | value``, in place of the (band, bucket
string) pair, and the (band, bucket, tenant) index becomes (band_key, tenant).

A lookup's probes become one list of integers the index is searched with (a containment query sends 2,048):
no string compares, a smaller index, and one statement whatever the number of values per band. MinHash values
keep 53 bits and there are 128 bands, so the key fits in 60 bits and distinct (band, value) pairs never share
one. Existing rows are converted in place; downgrade splits the key back into band and bucket.

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
    op.add_column("manifest_bands", sa.Column("band_key", sa.BigInteger(), nullable=True))
    op.execute(f"UPDATE manifest_bands SET band_key = band * {BAND_SHIFT} + CAST(bucket AS BIGINT)")
    op.drop_index(OLD_INDEX, table_name="manifest_bands")
    with op.batch_alter_table("manifest_bands", schema=None) as batch_op:
        batch_op.alter_column("band_key", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_column("band")
        batch_op.drop_column("bucket")
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
