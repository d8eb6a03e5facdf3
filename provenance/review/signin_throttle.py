"""The sign-in back-off as one atomic step: an attempt *claims* a failure before its password is checked.

Why claim first: Argon2 takes ~100 ms. If the count were read, the password checked, and the count written
afterwards, N attempts sent at once would all read the same count, all be checked, and together add one
failure. Here each attempt, in one short locked transaction, either finds its account or client inside a
back-off window (refused, nothing checked) or adds one to both counts and sets the window the new count
demands. Only then is the password checked, outside any transaction; a right password clears the counts. N
parallel attempts therefore cost N back-off steps exactly as N sequential ones do: from a clean start, at most
``FREE_FAILURES + 1`` are checked before the window closes the rest out.

Locking: on SQLite the claim runs in ``BEGIN IMMEDIATE`` (the database write lock is held from the first
read), on PostgreSQL the rows are created with ``INSERT ... ON CONFLICT DO NOTHING`` and then locked with
``SELECT ... FOR UPDATE`` in key order (so two claims never deadlock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.store.models import LoginThrottle

FREE_FAILURES = 2  # typos happen: the first two failures cost nothing
MAX_DELAY = timedelta(minutes=15)
FAILURE_MEMORY = timedelta(hours=1)  # failures older than this are forgotten


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming one attempt."""

    allowed: bool  # False: inside a back-off window; the password must not be checked
    wait: float  # refused: seconds until the window ends; allowed: the wait this attempt imposes if it fails
    failures: int  # the highest count among the keys after the claim


def delay_after(failures: int) -> timedelta:
    """The wait imposed after ``failures`` consecutive failures: 0 for the first FREE_FAILURES, then doubling."""
    if failures <= FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - FREE_FAILURES, 20)), MAX_DELAY)


def _ensure_rows(session: Session, keys: list[str]) -> None:
    """Create missing counters without a race: two first attempts must not both INSERT the same key."""
    dialect = session.get_bind().dialect.name
    if dialect in {"sqlite", "postgresql"}:
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        for key in keys:
            session.execute(insert(LoginThrottle).values(key=key, failures=0).on_conflict_do_nothing())
        return
    existing = set(session.scalars(select(LoginThrottle.key).where(LoginThrottle.key.in_(keys))))
    session.add_all(LoginThrottle(key=key, failures=0) for key in keys if key not in existing)
    session.flush()


def _locked_rows(session: Session, keys: list[str]) -> list[LoginThrottle]:
    _ensure_rows(session, keys)
    query = select(LoginThrottle).where(LoginThrottle.key.in_(keys)).order_by(LoginThrottle.key)
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    # populate_existing: a row already in this session must be re-read now that it is locked.
    return list(session.scalars(query.execution_options(populate_existing=True)))


def claim_attempt(session: Session, keys: list[str], now: datetime) -> Claim:
    """Claim one attempt for every key, or refuse it. ``session`` must come from
    ``session_scope(url, immediate=True)`` and be committed right after (the claim holds the lock)."""
    keys = sorted(set(keys))
    rows = _locked_rows(session, keys)
    for row in rows:
        if row.last_failure_at is not None and now - row.last_failure_at > FAILURE_MEMORY:
            row.failures, row.blocked_until = 0, None
    blocked = [row.blocked_until for row in rows if row.blocked_until is not None and row.blocked_until > now]
    if blocked:
        return Claim(False, (max(blocked) - now).total_seconds(), max(row.failures for row in rows))
    for row in rows:
        row.failures = (row.failures or 0) + 1
        row.last_failure_at = now
        wait = delay_after(row.failures)
        row.blocked_until = now + wait if wait else None
    failures = max(row.failures for row in rows)
    return Claim(True, delay_after(failures).total_seconds(), failures)


def clear(session: Session, keys: list[str]) -> None:
    """A right password: forget the failures (its own claim included) for these keys."""
    session.execute(LoginThrottle.__table__.update().where(LoginThrottle.key.in_(sorted(set(keys))))
                    .values(failures=0, blocked_until=None))
