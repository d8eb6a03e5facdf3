"""One way to wait for something another process does: poll a condition until it holds or a deadline passes.

Tests never sleep a fixed time and hope; they wait for the state they need and fail with what they last saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition never held; the message says what was last observed."""


def wait_until(probe: Callable[[], T], *, timeout: float, interval: float = 0.2,
               done: Callable[[T], bool] = bool, what: str = "condition") -> T:
    """Call ``probe`` until ``done(result)`` holds and return that result; raise ``WaitTimeout`` (with the last
    result) after ``timeout`` seconds. A probe that raises counts as "not yet" (a database a worker has not
    created yet, a port not yet listening); the last error is reported if the wait times out."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = probe()
            if done(result):
                return result
            last = result
        except Exception as error:  # noqa: BLE001 - "not ready yet" comes in many shapes
            last = error
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{what} did not happen within {timeout:.0f}s; last seen: {last!r}"[:3000])
        time.sleep(interval)
