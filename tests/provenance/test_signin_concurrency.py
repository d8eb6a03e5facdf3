"""The sign-in back-off under concurrency: wrong passwords sent at once, from many threads and from two
processes, on SQLite and on PostgreSQL, cost one back-off step each. From a clean start at most
``FREE_FAILURES + 1`` (3) are checked; every other attempt is refused without its password being checked.

The count of checked attempts is read from the audit log (one ``reviewer.signin_failed`` row per checked
attempt, one ``reviewer.signin_throttled`` per refusal) and, in-process, from a counting wrapper around the
password check. All attempts share one ``now`` so no assertion depends on how fast the machine is."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from provenance.review import accounts as reviewers
from provenance.review.accounts import FREE_FAILURES, add_reviewer, authenticate
from provenance.store import AuditLog, session_scope, upgrade
from provenance.store.models import LoginThrottle, utcnow

PASSWORD = "correct horse battery"
ATTEMPTS = 12


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        store = f"sqlite:///{tmp_path / 'provenance.sqlite'}"
    else:
        store = request.getfixturevalue("postgres_url")
    upgrade(store)
    add_reviewer(store, "alice", PASSWORD)
    return store


def _outcomes(url: str) -> tuple[int, int]:
    """(checked, refused unchecked) sign-in attempts, from the audit log."""
    with session_scope(url) as session:
        actions = list(session.scalars(select(AuditLog.action)))
    return actions.count("reviewer.signin_failed"), actions.count("reviewer.signin_throttled")


def _failures(url: str, key: str) -> int:
    with session_scope(url) as session:
        return session.scalars(select(LoginThrottle.failures).where(LoginThrottle.key == key)).one()


def _attack(url: str, count: int, now: datetime, tag: str, barrier: threading.Barrier | None = None) -> list[str]:
    """``count`` wrong passwords for alice at once, each from its own client address."""
    barrier = barrier or threading.Barrier(count)
    messages: list[str] = []

    def attempt(index: int) -> None:
        barrier.wait()
        result = authenticate(url, "alice", f"guess {tag}{index}", client=f"198.51.100.{tag}{index}", now=now)
        assert result.account is None
        messages.append(result.message)

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return messages


def test_parallel_wrong_passwords_are_claimed_before_they_are_checked(url: str, monkeypatch) -> None:
    checked = []
    real_verify = reviewers._verify

    def counting_verify(password_hash: str | None, password: str) -> bool:
        checked.append(password)
        return real_verify(password_hash, password)

    monkeypatch.setattr(reviewers, "_verify", counting_verify)
    messages = _attack(url, ATTEMPTS, utcnow(), "1")
    assert len(messages) == ATTEMPTS
    assert len(checked) == FREE_FAILURES + 1 == 3
    assert _outcomes(url) == (3, ATTEMPTS - 3)
    assert sum("Too many" in message for message in messages) == ATTEMPTS - 3
    assert _failures(url, "account:alice") == 3  # one back-off step per checked attempt


def test_one_failure_then_twelve_at_once(url: str) -> None:
    """The issue's case: after one failure, 12 parallel guesses used to all be checked and move the count 1->2."""
    now = utcnow()
    assert authenticate(url, "alice", "first typo", client="192.0.2.1", now=now).account is None
    _attack(url, ATTEMPTS, now, "2")
    checked, refused = _outcomes(url)
    assert checked == 1 + FREE_FAILURES  # the typo, then two more before the window closed
    assert refused == ATTEMPTS - FREE_FAILURES
    assert _failures(url, "account:alice") == 3
    # The right password is refused unchecked inside the window too, and works once it is over.
    assert authenticate(url, "alice", PASSWORD, client="192.0.2.1", now=now).account is None
    later = now + reviewers.delay_after(3) * 2
    assert authenticate(url, "alice", PASSWORD, client="192.0.2.1", now=later).account is not None
    assert _failures(url, "account:alice") == 0


def _process_attack(url: str, now_iso: str, tag: str, start: multiprocessing.synchronize.Event) -> None:
    start.wait(60)
    _attack(url, ATTEMPTS // 2, datetime.fromisoformat(now_iso), tag)


def test_two_processes_share_one_back_off(url: str) -> None:
    """Two dashboard processes (real OS processes with their own engines) against one account."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    now = utcnow().isoformat()
    processes = [context.Process(target=_process_attack, args=(url, now, tag, start)) for tag in ("3", "4")]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(180)
        assert process.exitcode == 0
    assert _outcomes(url) == (3, ATTEMPTS - 3)
    assert _failures(url, "account:alice") == 3
