"""Second opinions on real SQLite and PostgreSQL: an escalated item is never settled by the reviewer who
escalated it, overlap sampling hands a share of items to a second reviewer, inter-reviewer agreement."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from provenance import review
from provenance.review.common import overlap_selected
from provenance.review.stats import pair_agreement
from provenance.store import AuditLog, VerdictRow, session_scope, upgrade
from testkit.review_seed import seed_demo_verdicts


@pytest.fixture
def seeded(db_url: str) -> str:
    """A seeded store on SQLite and on PostgreSQL (``db_url`` runs each test on both)."""
    upgrade(db_url)
    with session_scope(db_url) as db:
        seed_demo_verdicts(db, 60, seed=5)
    return db_url


def _first_open(url: str, *, overlap: bool | None = None) -> int:
    with session_scope(url) as db:
        ids = [row.id for row in review.queue_page(db, limit=60).rows]
    if overlap is None:
        return ids[0]
    return next(i for i in ids if overlap_selected(i, 0.1) == overlap)


def test_the_escalator_can_neither_claim_nor_settle_the_escalated_item(seeded: str) -> None:
    item = _first_open(seeded)
    with session_scope(seeded) as db:
        assert review.claim(db, item, "ann", 600).ok
        review.decide(db, item, "ann", "escalate", "not sure: quotes a novel?")
    with session_scope(seeded) as db:
        refused = review.claim(db, item, "ann", 600)
        assert not refused.ok and "another reviewer" in refused.message
        escalated = review.QueueFilters(status=review.STATUS_ESCALATED)
        assert review.claim_next(db, "ann", 600, escalated) is None  # the only escalated item is hers
    with pytest.raises(review.ReviewError, match="you escalated item"), session_scope(seeded) as db:
        review.decide(db, item, "ann", "human")
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, item).review_status == review.STATUS_ESCALATED
        claimed = review.claim_next(db, "ben", 600, review.QueueFilters(status=review.STATUS_ESCALATED))
        assert claimed is not None and claimed.verdict_id == item
        review.decide(db, item, "ben", "human")
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, item).review_status == review.STATUS_DECIDED
        # nor may she turn her escalation into a decision through "change"
        escalation = next(r for r in review.recent_decisions(db, "ann") if r.verdict_id == item)
        assert escalation.changeable_to == ()
    with pytest.raises(review.ReviewError), session_scope(seeded) as db:
        review.change(db, escalation.decision_id, "ann", "machine")


def test_an_escalation_cannot_be_changed_into_a_decision_by_its_escalator(seeded: str) -> None:
    item = _first_open(seeded)
    with session_scope(seeded) as db:
        record = review.decide(db, item, "ann", "escalate")
    with pytest.raises(review.ReviewError, match="another reviewer settles it"), session_scope(seeded) as db:
        review.change(db, record.id, "ann", "machine")
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, item).review_status == review.STATUS_ESCALATED


def test_overlap_sampling_sends_the_drawn_share_to_a_second_independent_reviewer(seeded: str) -> None:
    drawn, plain = _first_open(seeded, overlap=True), _first_open(seeded, overlap=False)
    with session_scope(seeded) as db:
        review.decide(db, drawn, "ann", "machine", overlap_share=0.1)
        review.decide(db, plain, "ann", "machine", overlap_share=0.1)
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, drawn).review_status == review.STATUS_OVERLAP
        assert db.get(VerdictRow, plain).review_status == review.STATUS_DECIDED
        open_ids = [row.id for row in review.queue_page(db, limit=100).rows]
        assert drawn in open_ids and plain not in open_ids
        mine = [row.id for row in review.queue_page(db, review.QueueFilters(reviewer="ann"), limit=100).rows]
        assert drawn not in mine
        assert not review.claim(db, drawn, "ann", 600).ok
        assert review.review_counts(db)["overlap"] == 1
    with pytest.raises(review.ReviewError, match="another reviewer"), session_scope(seeded) as db:
        review.decide(db, drawn, "ann", "human", overlap_share=0.1)
    with session_scope(seeded) as db:
        assert review.claim(db, drawn, "ben", 600).ok
        review.decide(db, drawn, "ben", "human", overlap_share=0.1)
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, drawn).review_status == review.STATUS_DECIDED
        pairs = review.reviewer_agreement(db)
        assert (pairs["items"], pairs["agreement"]) == (1, 0.0)
        assert pairs["table"] == [{"first": "machine", "second": "human", "count": 1}]
        statuses = [row.details["status"] for row in db.scalars(
            select(AuditLog).where(AuditLog.action == "review.decide").order_by(AuditLog.id))]
        assert statuses == ["overlap", "decided", "decided"]


def test_the_default_library_call_samples_no_overlap(seeded: str) -> None:
    drawn = _first_open(seeded, overlap=True)
    with session_scope(seeded) as db:
        review.decide(db, drawn, "ann", "machine")
    with session_scope(seeded) as db:
        assert db.get(VerdictRow, drawn).review_status == review.STATUS_DECIDED


def test_overlap_selection_draws_the_configured_share_and_is_stable() -> None:
    for share in (0.05, 0.1, 0.3):
        drawn = sum(overlap_selected(i, share) for i in range(1, 20_001))
        assert abs(drawn / 20_000 - share) < 0.01
    assert [overlap_selected(i, 0.1) for i in range(1, 200)] == [overlap_selected(i, 0.1) for i in range(1, 200)]
    assert not any(overlap_selected(i, 0.0) for i in range(1, 2000))
    assert all(overlap_selected(i, 1.0) for i in range(1, 2000))


def test_cohens_kappa_against_a_hand_computed_table() -> None:
    # 10 invented pairs: 7 agree; first said machine 6 times, second 5 times.
    pairs = [("machine", "machine")] * 4 + [("human", "human")] * 3 + [("machine", "human")] * 2 + \
        [("human", "machine")]
    result = pair_agreement(pairs)
    chance = 0.6 * 0.5 + 0.4 * 0.5
    assert result["items"] == 10 and result["agreement"] == pytest.approx(0.7)
    assert result["kappa"] == pytest.approx((0.7 - chance) / (1 - chance))
    assert pair_agreement([])["kappa"] is None
    assert pair_agreement([("human", "human")] * 3)["kappa"] is None  # chance agreement is total


def test_agreement_counts_each_overlapped_item_once_and_ignores_one_reviewer_twice(seeded: str) -> None:
    items = [i for i in (row.id for row in _rows(seeded)) if overlap_selected(i, 1.0)][:3]
    with session_scope(seeded) as db:
        for item in items:
            review.decide(db, item, "ann", "machine", overlap_share=1.0)
    with session_scope(seeded) as db:
        review.decide(db, items[0], "ben", "machine", overlap_share=1.0)
        review.decide(db, items[1], "ben", "misuse", overlap_share=1.0)
    with session_scope(seeded) as db:
        result = review.reviewer_agreement(db)
        assert result["items"] == 2 and result["agreement"] == pytest.approx(0.5)


def _rows(url: str) -> list[review.QueueRow]:
    with session_scope(url) as db:
        return review.queue_page(db, limit=60).rows


def test_overlap_needs_a_second_active_reviewer(db_url: str) -> None:
    """With one reviewer (the demo's case) an overlap item would wait forever for a second opinion: none is held."""
    from provenance.review.accounts import add_reviewer, disable_reviewer

    upgrade(db_url)
    add_reviewer(db_url, "solo", "a long invented password 1")
    with session_scope(db_url) as db:
        assert review.overlap_share_for(db, 0.5, None) == 0.0
    add_reviewer(db_url, "second", "a long invented password 2")
    with session_scope(db_url) as db:
        assert review.overlap_share_for(db, 0.5, None) == 0.5
        assert review.overlap_share_for(db, 0.5, "another-tenant") == 0.0
        assert review.overlap_share_for(db, 0.0, None) == 0.0
    disable_reviewer(db_url, "second")
    with session_scope(db_url) as db:
        assert review.overlap_share_for(db, 0.5, None) == 0.0
