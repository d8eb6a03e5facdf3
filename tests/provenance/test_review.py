"""The reviewer data layer on real SQLite and a real PostgreSQL: queue, leases, decisions, stats, audit."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from provenance import review
from provenance.store import AuditLog, ReviewDecision, ReviewLease, VerdictRow, session_scope, upgrade, utcnow
from testkit.review_seed import seed_demo_verdicts


@pytest.fixture
def seeded(db_url: str) -> str:
    upgrade(db_url)
    with session_scope(db_url) as db:
        seed_demo_verdicts(db, 300, seed=3)
    return db_url


def _all_pages(db, filters: review.QueueFilters | None = None, limit: int = 37) -> list[review.QueueRow]:
    rows, cursor = [], None
    while True:
        page = review.queue_page(db, filters, limit=limit, after=cursor)
        rows.extend(page.rows)
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def test_queue_pages_cover_every_open_item_once_in_priority_order(seeded: str) -> None:
    with session_scope(seeded) as db:
        rows = _all_pages(db)
        expected = db.scalar(select(func.count()).select_from(VerdictRow)
                             .where(VerdictRow.needs_review.is_(True), VerdictRow.review_status.is_(None)))
        assert review.queue_count(db) == expected
    assert len(rows) == expected == len({row.id for row in rows})
    keys = [(row.review_priority, row.id) for row in rows]
    assert keys == sorted(keys, reverse=True)


def test_queue_filters_narrow_by_verdict_score_entity_job_and_misuse(seeded: str) -> None:
    filters = review.QueueFilters(verdicts=("uncertain",), p_min=0.3, p_max=0.7, entity_type="PERSON")
    with session_scope(seeded) as db:
        rows = _all_pages(db, filters)
        assert rows and all(r.verdict == "uncertain" and 0.3 <= r.p_machine <= 0.7 and ",PERSON," in r.pii_types
                            for r in rows)
        misuse = _all_pages(db, review.QueueFilters(misuse_only=True))
        assert misuse and all(r.misuse for r in misuse)
        assert _all_pages(db, review.QueueFilters(job_id="no-such-job")) == []
        assert len(_all_pages(db, review.QueueFilters(job_id="demo-job"))) == review.queue_count(db)


@pytest.mark.parametrize("filters, message", [
    (review.QueueFilters(verdicts=("robot",)), "unknown verdict"),
    (review.QueueFilters(p_min=0.8, p_max=0.2), "score range"),
    (review.QueueFilters(entity_type="x' OR 1=1 --"), "invalid entity type"),
    (review.QueueFilters(status="closed"), "unknown queue status"),
])
def test_bad_filters_are_clear_errors(seeded: str, filters: review.QueueFilters, message: str) -> None:
    with session_scope(seeded) as db, pytest.raises(review.ReviewError, match=message):
        review.queue_page(db, filters)


def test_a_claimed_item_is_taken_for_others_until_the_lease_expires(seeded: str) -> None:
    with session_scope(seeded) as db:
        first = review.queue_page(db, limit=1).rows[0].id
        assert review.claim(db, first, "alice", 60).ok
    with session_scope(seeded) as db:
        lost = review.claim(db, first, "bob", 60)
        assert not lost.ok and lost.holder == "alice" and "taken by alice" in lost.message
        assert review.queue_page(db, limit=1).rows[0].taken_by == "alice"
        nxt = review.claim_next(db, "bob", 60)
        assert nxt is not None and nxt.ok and nxt.verdict_id != first
        assert review.claim(db, first, "alice", 60).ok  # renewing one's own lease
    later = utcnow() + timedelta(seconds=120)  # alice walked away: her lease has expired
    with session_scope(seeded) as db:
        assert review.claim(db, first, "bob", 60, now=later).ok
        assert db.get(ReviewLease, first).reviewer == "bob"


def test_concurrent_claims_have_exactly_one_winner(seeded: str) -> None:
    with session_scope(seeded) as db:
        target = review.queue_page(db, limit=1).rows[0].id
    results: list[review.ClaimResult] = []
    barrier = threading.Barrier(6)

    def contend(name: str) -> None:
        barrier.wait()
        with session_scope(seeded) as db:
            results.append(review.claim(db, target, name, 60))

    threads = [threading.Thread(target=contend, args=(f"reviewer-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r.ok]
    assert len(results) == 6 and len(winners) == 1
    assert all(r.holder == winners[0].holder for r in results)


def test_decision_and_audit_row_commit_together_and_release_the_lease(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "alice", 60).verdict_id
    with session_scope(seeded) as db:
        record = review.decide(db, item, "alice", "machine", "  obviously generated  ")
    with session_scope(seeded) as db:
        decision = db.get(ReviewDecision, record.id)
        assert (decision.reviewer, decision.decision, decision.note) == ("alice", "machine", "obviously generated")
        (entry,) = db.scalars(select(AuditLog).where(AuditLog.subject_id == str(item))).all()
        assert entry.action == "review.decide" and entry.actor == "alice"
        assert entry.details["decision"] == "machine" and entry.details["decision_id"] == record.id
        assert db.get(ReviewLease, item) is None
        assert db.get(VerdictRow, item).review_status == "decided"
        assert item not in {row.id for row in _all_pages(db)}
        assert review.audit_rows(db, actor="alice")[0]["note"] == "obviously generated"


def test_a_failed_transaction_loses_neither_half_alone(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "alice", 60).verdict_id
    with pytest.raises(RuntimeError), session_scope(seeded) as db:
        review.decide(db, item, "alice", "human")
        raise RuntimeError("crash before commit")
    with session_scope(seeded) as db:
        assert db.scalar(select(func.count()).select_from(ReviewDecision)) == 0
        assert db.scalar(select(func.count()).select_from(AuditLog)) == 0
        assert db.get(VerdictRow, item).review_status is None


def test_decisions_are_refused_for_items_taken_by_others_or_already_decided(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "alice", 60).verdict_id
    with session_scope(seeded) as db, pytest.raises(review.ReviewError, match="taken by alice"):
        review.decide(db, item, "bob", "human")
    with session_scope(seeded) as db:
        review.decide(db, item, "alice", "human")
    with session_scope(seeded) as db, pytest.raises(review.ReviewError, match="already been decided"):
        review.decide(db, item, "alice", "machine")
    with session_scope(seeded) as db:
        assert not review.claim(db, item, "bob", 60).ok


@pytest.mark.parametrize("reviewer, decision, message", [
    ("alice", "maybe", "unknown decision"), ("   ", "human", "reviewer name is required"),
    ("x" * 200, "human", "longer than"),
])
def test_bad_decisions_are_clear_errors(seeded: str, reviewer: str, decision: str, message: str) -> None:
    with session_scope(seeded) as db, pytest.raises(review.ReviewError, match=message):
        review.decide(db, review.queue_page(db, limit=1).rows[0].id, reviewer, decision)


def test_escalated_items_move_to_the_escalated_queue_and_can_be_decided_there(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "alice", 60).verdict_id
        review.decide(db, item, "alice", "escalate", "needs legal")
    escalated = review.QueueFilters(status=review.STATUS_ESCALATED)
    with session_scope(seeded) as db:
        assert [row.id for row in _all_pages(db, escalated)] == [item]
        assert review.claim_next(db, "lead", 60, escalated).verdict_id == item
        review.decide(db, item, "lead", "misuse")
    with session_scope(seeded) as db:
        assert _all_pages(db, escalated) == []
        assert [r["decision"] for r in review.audit_rows(db, subject_id=str(item))] == ["misuse", "escalate"]


def test_audit_log_is_append_only_and_exports_csv(seeded: str) -> None:
    with session_scope(seeded) as db:
        item = review.claim_next(db, "alice", 60).verdict_id
        review.decide(db, item, "alice", "human", 'said "hi", then left')
    with pytest.raises((DBAPIError, IntegrityError)), session_scope(seeded) as db:
        db.execute(update(AuditLog).values(actor="mallory"))
    with session_scope(seeded) as db:
        rows = review.audit_rows(db)
        text = review.audit_csv(rows)
        assert review.audit_actions(db) == ["review.decide"]
        assert review.audit_rows(db, since=utcnow() + timedelta(days=1)) == []
    lines = text.splitlines()
    assert lines[0] == ",".join(review.AUDIT_COLUMNS)
    assert len(lines) == 2 and "alice" in lines[1] and '"said ""hi"", then left"' in lines[1]


def test_stats_aggregate_in_the_database(seeded: str) -> None:
    with session_scope(seeded) as db:
        for decision in ("machine", "human", "misuse"):
            result = review.claim_next(db, "alice", 60)
            review.decide(db, result.verdict_id, "alice", decision)
        distribution = review.verdict_distribution(db)
        histogram = review.score_histogram(db, "p_machine", bins=10)
        z_histogram = review.score_histogram(db, "watermark_z", bins=7, low=-4, high=10)
        counts = review.review_counts(db)
        agreement = review.agreement(db)
        over_time = review.decisions_over_time(db)
        total_scored = db.scalar(select(func.count()).select_from(VerdictRow).where(VerdictRow.p_machine.is_not(None)))
    assert sum(distribution.values()) == 300 == counts["verdicts"]
    assert len(histogram) == 10 and sum(n for _, n in histogram) == total_scored
    assert sum(n for _, n in z_histogram) == 300
    assert counts["decided"] == 3 and agreement["decisions"] == 3
    assert sum(n for _, _, n in over_time) == 3
    assert agreement["agreement"] is None or 0.0 <= agreement["agreement"] <= 1.0


def test_jobs_report_progress(seeded: str) -> None:
    with session_scope(seeded) as db:
        (job,) = review.jobs(db)
        assert review.job_ids(db) == ["demo-job"]
    assert job["job"] == "demo-job" and job["status"] == "done" and job["progress"] == 1.0


def test_item_detail_has_text_pii_offsets_and_decisions(seeded: str) -> None:
    with session_scope(seeded) as db:
        row = _all_pages(db, review.QueueFilters(entity_type="EMAIL_ADDRESS"))[0]
        detail = review.item_detail(db, row.id)
        assert review.item_detail(db, 10**9) is None
    assert detail is not None and detail.text
    for entity in detail.verdict.record("pii")["items"]:
        assert detail.text[entity["start"]:entity["end"]] == f"<{entity['type']}>"


def test_claiming_a_missing_item_is_a_message_and_leaves_the_transaction_usable(seeded: str) -> None:
    with session_scope(seeded) as db:
        result = review.claim(db, 10**9, "alice", 60)
        assert not result.ok and "does not exist" in result.message
        assert review.claim_next(db, "alice", 60).ok
