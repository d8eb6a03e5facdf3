"""Reviewer accounts belong to a tenant (existing accounts to ``default``), so the dashboard shows each reviewer
only its own tenant's jobs, verdicts and audit rows; a ``platform-admin`` role (created on the command line)
sees every tenant.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reviewers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant", sa.String(length=64), nullable=False, server_default="default"))
        batch_op.create_index("ix_reviewers_tenant", ["tenant"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reviewers", schema=None) as batch_op:
        batch_op.drop_index("ix_reviewers_tenant")
        batch_op.drop_column("tenant")
