"""The reviewer's per-browser-session state (the open item, its messages, the last decision), kept in ONE plain
object in ``st.session_state``, with a lock.

A second key press that reaches the server while the first press's callback is still writing the store must not
act on the same item again. Two things in Streamlit make that happen without care:

- With ``runner.fastReruns`` (the default) a new rerun request does not wait: the running script thread is told to
  stop and a NEW script thread starts at once, so the second press's callback can run while the first's is
  still inside its transaction (seen in the browser test: two callbacks 21 ms apart on two threads, both
  reading the old item as open; the second failed with "already been decided").
- Every read or write of ``st.session_state`` is a point where a stopped thread ends (``StopException`` or
  ``RerunException``), so a callback that wrote the store and then set several session keys could be cut off
  between the two, leaving the decided item open and the next one claimed but never shown.

So each callback holds the session's lock from its "is this item still open?" check to its last state change,
reads every widget value it needs before it writes the store, and afterwards changes only this object's
attributes, which are plain Python and cannot be interrupted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import streamlit as st

STATE_KEY = "review-state"
SKIPPED_MAX = 20  # items skipped in this sitting that are handed out last
LINKS_REMEMBERED = 200  # ``?item=`` values this session has acted on or written, newest last


@dataclass
class LastDecision:
    """The decision the Undo button undoes."""

    id: int
    verdict_id: int
    decision: str
    at: datetime


@dataclass
class ReviewState:
    """What the queue page shows for one signed-in browser session."""

    item_id: int | None = None
    # Every opening gets a new serial, so the focus script runs again even when the same item reopens (after a
    # release or an undo).
    item_serial: int = 0
    flash: str = ""
    flash_error: str = ""
    last_decision: LastDecision | None = None
    skipped: list[int] = field(default_factory=list)
    # The source id can bias a reviewer ("human-corpus-7"): kept for the message after the decision.
    item_source: dict[int, str | None] = field(default_factory=dict)
    links_seen: list[str] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)  # decisions this session replaced (My recent decisions)
    # Re-entrant, so that a handler holding it may call another handler's body.
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @contextmanager
    def acting_on(self, verdict_id: int) -> Iterator[bool]:
        """Hold the session's lock; yields whether ``verdict_id`` is still the open item (a press sent for an
        item that has since been decided, skipped or released must do nothing)."""
        with self.lock:
            yield self.item_id == verdict_id

    def open(self, verdict_id: int | None) -> None:
        """Open ``verdict_id`` (None: close the item)."""
        self.item_id = verdict_id
        if verdict_id is not None:
            self.item_serial += 1

    def note(self, message: str) -> None:
        self.flash = f"{self.flash} {message}".strip()

    def fail(self, message: str) -> None:
        self.flash_error = message

    def take_messages(self) -> tuple[str, str]:
        """The pending success and error messages, cleared: each is shown once."""
        messages = (self.flash, self.flash_error)
        self.flash = self.flash_error = ""
        return messages

    def first_sight_of_link(self, value: str) -> bool:
        """Record an ``?item=`` value; whether this session had not acted on or written it before."""
        if value in self.links_seen:
            return False
        self.links_seen = [*self.links_seen, value][-LINKS_REMEMBERED:]
        return True

    def first_change_of(self, decision_id: int) -> bool:
        """Whether this session has not yet replaced decision ``decision_id``."""
        return decision_id not in self.changed

    def skipped_before(self, verdict_id: int) -> list[int]:
        """Items skipped earlier in this sitting (newest last, at most ``SKIPPED_MAX``), without ``verdict_id``;
        the caller records ``verdict_id`` once its skip is stored."""
        return [i for i in self.skipped if i != verdict_id][-SKIPPED_MAX:]


def review_state() -> ReviewState:
    """This browser session's state, created on first use."""
    state: Any = st.session_state.get(STATE_KEY)
    if not isinstance(state, ReviewState):
        state = ReviewState()
        st.session_state[STATE_KEY] = state
    return state


def reset_review_state() -> None:
    """Forget the open item and the messages (on sign-out or an expired session)."""
    st.session_state.pop(STATE_KEY, None)
