"""Scan-job callbacks: ``POST /v1/scan`` may name a ``callback_url`` that is called once when the job ends (a
signed body, retried with back-off, every attempt audited). One row per job that asked for it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 22:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_callbacks",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["scan_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_job_callbacks_due", "job_callbacks", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_job_callbacks_due", table_name="job_callbacks")
    op.drop_table("job_callbacks")
