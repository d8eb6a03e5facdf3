"""Verdicts store each registered signal's record and every signal's version: ``signals`` ({name: record}, for
signals without columns of their own) and ``versions`` ({name: version}). Both are nullable, so every row
written before this revision stays readable as it was (readers treat NULL as ``{}``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signals", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("versions", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.drop_column("versions")
        batch_op.drop_column("signals")
