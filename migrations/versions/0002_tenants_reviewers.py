"""Tenants and reviewer accounts: API keys, scan jobs and manifests belong to a tenant (existing rows to
``default``); reviewer accounts with hashed passwords; a sign-in throttle shared by every dashboard process.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("api_keys", "scan_jobs", "manifests")


def upgrade() -> None:
    for table in TENANT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("tenant", sa.String(length=64), nullable=False,
                                          server_default="default"))
            batch_op.create_index(f"ix_{table}_tenant", ["tenant"], unique=False)
    op.create_table(
        "reviewers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    # Stored broker URLs lose their credentials (heartbeats are rewritten every few seconds anyway).
    op.execute("DELETE FROM worker_heartbeats")


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_table("reviewers")
    for table in TENANT_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_tenant")
            batch_op.drop_column("tenant")
