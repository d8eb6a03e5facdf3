"""Seeded demo verdicts carry the priority a scan would store: the seeder calls the pipeline's own rule, so the
item page's "why is this item in the queue" breakdown adds up to every seeded row's stored priority."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from provenance import review
from provenance.store import VerdictRow, session_scope, upgrade
from testkit.review_seed import seed_demo_verdicts


def test_seeded_priorities_are_the_pipelines(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'seeded.sqlite'}"
    upgrade(url)
    with session_scope(url) as db:
        seed_demo_verdicts(db, 300, seed=3)
    with session_scope(url) as db:
        rows = db.scalars(select(VerdictRow)).all()
        breakdowns = [(row, review.priority_parts(row)) for row in rows]
    assert len(breakdowns) == 300
    assert [row.id for row, parts in breakdowns if not parts.matches_stored] == []
    assert [row.id for row, parts in breakdowns if row.needs_review != (parts.total > 0)] == []
    # The seed draws every kind the rule weighs, so the comparison above is not vacuous.
    assert {row.verdict for row, _ in breakdowns} >= {"machine", "human", "uncertain"}
    assert any(row.misuse for row, _ in breakdowns) and any(row.pii_count for row, _ in breakdowns)
