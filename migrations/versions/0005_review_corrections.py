"""Review decisions can be undone and changed without losing the old row: ``previous_status`` (the verdict's
review status before the decision, what an undo restores), ``superseded_at`` and ``superseded_by`` (set when a
later undo or change replaces the decision; a superseded decision no longer counts). All nullable: rows written
before this revision are active decisions. Settled escalations get ``previous_status`` "escalated" from the
escalation recorded before them, so an undo of one returns the item to the escalated queue.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("review_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("superseded_by", sa.Integer(), nullable=True))
    op.execute("UPDATE review_decisions SET previous_status = 'escalated' WHERE decision <> 'escalate' AND EXISTS "
               "(SELECT 1 FROM review_decisions AS earlier WHERE earlier.verdict_id = review_decisions.verdict_id "
               "AND earlier.decision = 'escalate' AND earlier.id < review_decisions.id)")


def downgrade() -> None:
    with op.batch_alter_table("review_decisions", schema=None) as batch_op:
        batch_op.drop_column("superseded_by")
        batch_op.drop_column("superseded_at")
        batch_op.drop_column("previous_status")
