"""Artifacts through the store: ``artifacts`` holds published archives (bundles, memorisation index, the keys
directory encrypted under the operator's key-encryption key) and ``active_artifacts`` names the one of each kind
every host serves, so a worker, API or dashboard host can start from an empty data home.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("encrypted", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("published_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("kind", "digest", name="uq_artifacts_kind_digest"),
    )
    op.create_table(
        "active_artifacts",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("artifact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.ForeignKey("artifacts.id"),
                  nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("active_artifacts")
    op.drop_table("artifacts")
