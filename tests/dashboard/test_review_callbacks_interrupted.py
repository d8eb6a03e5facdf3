"""A second key press that reaches the server while the first press's callback is still running. Streamlit (with
``runner.fastReruns``, its default) starts the second press's script thread at once and tells the first to stop
at its next ``st.session_state`` access, so the two callbacks can overlap, and the first can be cut off
part-way. Whatever the overlap or the cut, the item must be acted on once, the page must show the item that was
claimed next, and that item must be the one the reviewer holds.

The browser test (``test_dashboard_decisions_browser``) presses the key twice for real, but whether the presses
overlap depends on timing. Here the cut is placed at each of the callback's interruption points in turn, through
Streamlit's own ``SafeSessionState`` with a rerun request pending, and the overlap is forced by two threads and
a store write that takes a while, against a real SQLite store."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException
from streamlit.runtime.state import SafeSessionState, SessionState

from dashboard import item
from dashboard.review_state import STATE_KEY, ReviewState
from provenance import review
from provenance.settings import load_settings
from provenance.store import AuditLog, ReviewDecision, ReviewLease, VerdictRow, session_scope
from testkit.review_seed import seeded_sqlite_store

REVIEWER = "gina"


class PendingRerun:
    """Streamlit's yield check with a rerun request pending from the ``cut_at``-th check on (counting from 0)."""

    def __init__(self, cut_at: int | None) -> None:
        self.cut_at, self.checks = cut_at, 0

    def __call__(self) -> None:
        check, self.checks = self.checks, self.checks + 1
        if self.cut_at is not None and check >= self.cut_at:
            self.cut_at = None  # one request: the rerun it starts runs to the end
            raise RerunException(None)


@pytest.fixture
def store(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = seeded_sqlite_store(clean_env, 12, seed=3)
    monkeypatch.setenv("PROVENANCE_DATABASE_URL", url)
    return url


@pytest.fixture
def yield_check(monkeypatch: pytest.MonkeyPatch) -> Iterator[PendingRerun]:
    """``st.session_state`` backed by Streamlit's SafeSessionState with a controllable yield check."""
    check = PendingRerun(None)
    state = SafeSessionState(SessionState(), yield_callback=check)
    monkeypatch.setattr("streamlit.runtime.state.session_state_proxy.get_session_state", lambda: state)
    yield check


def _press(key: str, state: ReviewState, verdict_id: int, filters: review.QueueFilters) -> None:
    """One press of M (decide 'machine') or S (skip) on the item drawn as ``verdict_id``: the callback as
    Streamlit calls it, a RerunException ending it early as Streamlit would (the script run stops there)."""
    with contextlib.suppress(RerunException):
        if key == "M":
            item._decide(state, load_settings(), REVIEWER, "default", verdict_id, "machine", filters)
        else:
            item._skip(state, load_settings(), REVIEWER, verdict_id, filters)


def _open_first(url: str, filters: review.QueueFilters) -> ReviewState:
    with session_scope(url) as db:
        first = review.claim_next(db, REVIEWER, 600, filters)
    assert first is not None
    state = ReviewState()
    state.open(first.verdict_id)
    return state


def _interruption_points(key: str, store: str, yield_check: PendingRerun) -> int:
    """How many times one uninterrupted callback checks for a pending rerun."""
    filters = review.QueueFilters(tenant="default").validated()
    state = _open_first(store, filters)
    yield_check.checks = 0
    _press(key, state, state.item_id or 0, filters)
    return yield_check.checks


def _acted_on(db: Session, key: str, audit_after: int) -> list[int]:
    """The items the reviewer decided (M) or skipped (S) in audit rows after ``audit_after``, in order."""
    action = "review.decide" if key == "M" else "review.skip"
    return [int(subject) for subject in db.scalars(select(AuditLog.subject_id).where(
        AuditLog.id > audit_after, AuditLog.actor == REVIEWER, AuditLog.action == action).order_by(AuditLog.id))]


@pytest.mark.parametrize("key", ["M", "S"])
def test_a_second_press_during_the_first_callback_acts_once_and_opens_the_claimed_item(
        key: str, store: str, yield_check: PendingRerun) -> None:
    points = _interruption_points(key, store, yield_check)
    for cut_at in range(points + 1):
        with session_scope(store) as db:  # a fresh sitting: nothing decided, no claims
            db.execute(ReviewDecision.__table__.delete())
            db.execute(ReviewLease.__table__.delete())
            audit_before = db.scalar(select(func.max(AuditLog.id))) or 0
            db.execute(VerdictRow.__table__.update().values(review_status=None))
        filters = review.QueueFilters(tenant="default").validated()
        state = _open_first(store, filters)
        first = state.item_id
        assert first is not None
        yield_check.checks, yield_check.cut_at = 0, cut_at
        _press(key, state, first, filters)  # the first press, cut off at its cut_at-th check (if it gets there)
        _press(key, state, first, filters)  # the second press, sent for the same item before the page changed
        with session_scope(store) as db:
            acted_on = _acted_on(db, key, audit_before)
            held = db.scalars(select(ReviewLease.verdict_id).where(ReviewLease.reviewer == REVIEWER)).all()
        assert acted_on == [first], f"cut at check {cut_at}"
        assert state.flash_error == "", f"cut at check {cut_at}: {state.flash_error}"
        assert state.item_id not in (None, first) and held == [state.item_id], f"cut at check {cut_at}"
        if key == "M":
            assert state.last_decision is not None and state.last_decision.verdict_id == first


@pytest.mark.parametrize("key", ["M", "S"])
def test_two_presses_whose_callbacks_overlap_act_once(key: str, store: str, yield_check: PendingRerun,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    writing = threading.Event()
    slow_target = "provenance.review.decide" if key == "M" else "provenance.review.skip"
    write = review.decide if key == "M" else review.skip

    def slow_write(*args: object, **kwargs: object) -> object:
        writing.set()  # the first press is inside its transaction: now the second press arrives
        time.sleep(0.3)
        return write(*args, **kwargs)

    monkeypatch.setattr(slow_target, slow_write)
    filters = review.QueueFilters(tenant="default").validated()
    state = _open_first(store, filters)
    first = state.item_id
    assert first is not None
    first_press = threading.Thread(target=_press, args=(key, state, first, filters))
    first_press.start()
    assert writing.wait(timeout=60)  # a hang guard
    _press(key, state, first, filters)  # the second press's callback, on its own thread as Streamlit runs it
    first_press.join(timeout=60)
    with session_scope(store) as db:
        acted_on = _acted_on(db, key, 0)
        held = db.scalars(select(ReviewLease.verdict_id).where(ReviewLease.reviewer == REVIEWER)).all()
    assert acted_on == [first]
    assert state.flash_error == ""
    assert state.item_id not in (None, first) and held == [state.item_id]



def test_a_double_click_on_review_next_item_opens_one_item_and_skips_none(
        store: str, yield_check: PendingRerun, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both clicks were drawn with no item open. The second is handled either while the first is still
    claiming (its thread waits for the lock) or after it (the redrawn button has another key, so Streamlit
    does not report the click; the handler's own check is what this exercises)."""
    claiming = threading.Event()
    claim_next = review.claim_next

    def slow_claim_next(*args: object, **kwargs: object) -> object:
        claiming.set()
        time.sleep(0.3)
        return claim_next(*args, **kwargs)

    monkeypatch.setattr("provenance.review.claim_next", slow_claim_next)
    state = ReviewState()
    st.session_state[STATE_KEY] = state
    filters = review.QueueFilters(tenant="default").validated()

    def click() -> None:
        with contextlib.suppress(RerunException):
            item.open_next(load_settings(), REVIEWER, filters, None)

    first_click = threading.Thread(target=click)
    first_click.start()
    assert claiming.wait(timeout=60)  # a hang guard
    click()  # overlapping the first
    first_click.join(timeout=60)
    opened = state.item_id
    click()  # after the first
    with session_scope(store) as db:
        skips = db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "review.skip"))
        held = db.scalars(select(ReviewLease.verdict_id).where(ReviewLease.reviewer == REVIEWER)).all()
    assert opened is not None and state.item_id == opened
    assert skips == 0 and held == [opened] and state.flash_error == ""


def test_a_double_click_on_change_changes_once_without_an_error(store: str, yield_check: PendingRerun) -> None:
    filters = review.QueueFilters(tenant="default").validated()
    state = _open_first(store, filters)
    first = state.item_id
    assert first is not None
    _press("M", state, first, filters)
    assert state.last_decision is not None
    decided = state.last_decision.id
    for _ in range(2):  # both clicks carry the decision that was listed when the button was drawn
        item._change(state, REVIEWER, "default", decided, "human")
    with session_scope(store) as db:
        changes = db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "review.change"))
        current = db.scalars(select(ReviewDecision.decision).where(
            ReviewDecision.verdict_id == first, ReviewDecision.superseded_at.is_(None))).all()
    assert changes == 1 and current == ["human"]
    assert state.flash_error == "" and "Changed your decision" in state.flash
