"""Undo, change and skip on real SQLite and PostgreSQL: the old decision is kept, the audit shows every step,
statistics and labels count only what still stands."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from provenance import review
from provenance.review.labels import latest_decisions, review_labels
from provenance.store import AuditLog, ReviewDecision, ReviewLease, VerdictRow, session_scope, upgrade, utcnow
from testkit.review_seed import seed_demo_verdicts


@pytest.fixture
def seeded(db_url: str) -> str:
    """A seeded store on SQLite and on PostgreSQL (``db_url`` runs each test on both)."""
    upgrade(db_url)
    with session_scope(db_url) as db:
        seed_demo_verdicts(db, 40, seed=8)
    return db_url


def _actions(db, item: int) -> list[str]:
    return [row.action for row in db.scalars(select(AuditLog).where(AuditLog.subject_id == str(item))
                                             .order_by(AuditLog.id))]


def test_undo_restores_the_item_to_the_queue_and_keeps_the_old_decision(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "ann", 600).verdict_id
        record = review.decide(db, item, "ann", "human", "looked fine")
    with session_scope(seeded) as db:
        assert item not in [row.id for row in review.queue_page(db, limit=100).rows]
        review.undo(db, record.id, "ann")
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, item).review_status is None
        assert item in [row.id for row in review.queue_page(db, limit=100).rows]
        kept = db.get(ReviewDecision, record.id)
        assert (kept.decision, kept.note) == ("human", "looked fine") and kept.superseded_at is not None
        assert _actions(db, item) == ["review.decide", "review.undo"]
        assert review.agreement(db)["decisions"] == 0
        assert review_labels(db).summary()["records"] == 0
        assert latest_decisions(db, [db.get(VerdictRow, item).document_id]) == {}  # verdicts export's decision
        assert review.recent_decisions(db, "ann") == []
        # the undoer may decide it again (an undone decision is no longer "hers")
        assert review.claim(db, item, "ann", 600).ok
        review.decide(db, item, "ann", "machine")
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, item).review_status == review.STATUS_DECIDED
        assert _actions(db, item) == ["review.decide", "review.undo", "review.decide"]


def test_undo_of_a_settled_escalation_returns_it_to_the_escalated_queue(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "ann", 600).verdict_id
        review.decide(db, item, "ann", "escalate")
    with session_scope(seeded) as db:
        settled = review.decide(db, item, "ben", "machine")
    with session_scope(seeded) as db:
        undone = review.undo(db, settled.id, "ben")
        assert undone.previous_status == review.STATUS_ESCALATED
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, item).review_status == review.STATUS_ESCALATED


def test_undo_is_refused_when_late_not_own_or_not_the_latest(seeded: str) -> None:
    with session_scope(seeded) as db:
        first = review.claim_next(db, "ann", 600).verdict_id
        second = review.claim_next(db, "ann", 600, skip=(first,)).verdict_id
        record = review.decide(db, first, "ann", "machine", now=utcnow() - timedelta(seconds=60))
    with pytest.raises(review.ReviewError, match="too late to undo"), session_scope(seeded) as db:
        review.undo(db, record.id, "ann", window_seconds=20)
    with pytest.raises(review.ReviewError, match="is ann's"), session_scope(seeded) as db:
        review.undo(db, record.id, "ben", window_seconds=3600)
    with pytest.raises(review.ReviewError, match="does not exist"), session_scope(seeded) as db:
        review.undo(db, 999_999, "ann")
    with session_scope(seeded) as db:
        review.undo(db, record.id, "ann", window_seconds=3600)
    with pytest.raises(review.ReviewError, match="already undone"), session_scope(seeded) as db:
        review.undo(db, record.id, "ann", window_seconds=3600)
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, second).review_status is None


def test_change_keeps_the_old_decision_and_audits_both(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "ann", 600).verdict_id
        old = review.decide(db, item, "ann", "human", "first look")
    with session_scope(seeded) as db:
        recent = review.recent_decisions(db, "ann")
        assert [(r.verdict_id, r.decision, r.latest) for r in recent] == [(item, "human", True)]
        assert set(recent[0].changeable_to) == {"machine", "misuse", "escalate"}
        assert recent[0].source_id  # shown after the decision
        new = review.change(db, old.id, "ann", "machine", "second look: template phrasing")
    with session_scope(seeded) as db:
        rows = db.scalars(select(ReviewDecision).where(ReviewDecision.verdict_id == item)
                          .order_by(ReviewDecision.id)).all()
        assert [(r.decision, r.superseded_by) for r in rows] == [("human", new.id), ("machine", None)]
        assert db.get(VerdictRow, item).review_status == review.STATUS_DECIDED
        assert _actions(db, item) == ["review.decide", "review.change"]
        change = db.scalars(select(AuditLog).where(AuditLog.action == "review.change")).one()
        assert (change.details["previous_decision"], change.details["decision"]) == ("human", "machine")
        assert latest_decisions(db, [db.get(VerdictRow, item).document_id]) == {
            db.get(VerdictRow, item).document_id: "machine"}
        audit = review.audit_rows(db, action="review.change")
        assert audit[0]["note"] == "second look: template phrasing"
        assert review.agreement(db)["decisions"] == 1
    with pytest.raises(review.ReviewError, match="is ann's"), session_scope(seeded) as db:
        review.change(db, new.id, "ben", "human")
    with pytest.raises(review.ReviewError, match="already undone or changed"), session_scope(seeded) as db:
        review.change(db, old.id, "ann", "misuse")
    with pytest.raises(review.ReviewError, match="unknown decision"), session_scope(seeded) as db:
        review.change(db, new.id, "ann", "maybe")


def test_change_into_an_escalation_sends_the_item_to_the_escalated_queue(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "ann", 600).verdict_id
        old = review.decide(db, item, "ann", "human")
    with session_scope(seeded) as db:
        review.change(db, old.id, "ann", "escalate")
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, item).review_status == review.STATUS_ESCALATED
        assert not review.claim(db, item, "ann", 600).ok
        assert review.claim(db, item, "ben", 600).ok


def test_only_the_latest_decision_on_an_item_can_be_changed(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "ann", 600).verdict_id
        escalation = review.decide(db, item, "ann", "escalate")
    with session_scope(seeded) as db:
        settled = review.decide(db, item, "ben", "human")
        assert review.recent_decisions(db, "ann")[0].latest is False
        assert "escalate" not in review.recent_decisions(db, "ben")[0].changeable_to
    with pytest.raises(review.ReviewError, match="settled a second-level item"), session_scope(seeded) as db:
        review.change(db, settled.id, "ben", "escalate")
    with pytest.raises(review.ReviewError), session_scope(seeded) as db:
        review.undo(db, escalation.id, "ann", window_seconds=3600)


def test_skip_releases_the_lease_audits_it_and_hands_out_a_different_item(seeded: str) -> None:
    with session_scope(seeded) as db:
        first = review.claim_next(db, "ann", 600).verdict_id
    with session_scope(seeded) as db:
        nxt = review.skip(db, first, "ann", 600)
        assert nxt is not None and nxt.ok and nxt.verdict_id != first
    with session_scope(seeded) as db:
        assert db.get(ReviewLease, first) is None
        assert _actions(db, first) == ["review.skip"]
        again = review.skip(db, nxt.verdict_id, "ann", 600, avoid=(first,))
        assert again is not None and again.verdict_id not in (first, nxt.verdict_id)
        # the skipped item stays in the queue for everyone else
        assert first in [row.id for row in review.queue_page(db, limit=100).rows]


def test_release_is_audited_and_only_releases_ones_own_lease(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "ann", 600).verdict_id
    with session_scope(seeded) as db:
        assert review.release_item(db, item, "ben") is False
        assert db.get(ReviewLease, item) is not None
        assert review.release_item(db, item, "ann") is True
    with session_scope(seeded) as db:
        assert db.get(ReviewLease, item) is None
        released = db.scalars(select(AuditLog).where(AuditLog.action == "review.release")
                              .order_by(AuditLog.id)).all()
        assert [(r.actor, r.details["released"]) for r in released] == [("ben", False), ("ann", True)]
