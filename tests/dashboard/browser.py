"""What every real-browser dashboard test shares: `provenance dashboard` on 127.0.0.1 in a subprocess, Debian's
Chromium through Playwright, and the sign-in form. Nothing here is a timing check: the deadlines are hang
guards for a shared, slow machine."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from provenance.store import AuditLog, session_scope
from testkit.services import free_port, stop_pid
from testkit.waiting import wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PROVENANCE_BIN = Path(sys.executable).parent / "provenance"
STARTUP_GUARD_S = 240  # a hang guard only (a shared 2-core machine can be slow); nothing here is a timing check
UI_GUARD_MS = 180_000
ARTIFACTS = Path(os.environ.get("PROVENANCE_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")
PASSWORD = "a browser test passphrase"

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                    reason="Debian's Chromium is not installed at /usr/bin/chromium")


@contextmanager
def running_dashboard(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """``provenance dashboard`` on a free 127.0.0.1 port for the data directory ``home``; yields its URL and
    stops the server afterwards (its log is ``home/dashboard.log``)."""
    port = free_port()
    env = {**os.environ, "PROVENANCE_HOME": str(home), "HF_HUB_OFFLINE": "1", **(extra_env or {})}
    env.pop("PROVENANCE_DATABASE_URL", None)
    home.mkdir(parents=True, exist_ok=True)
    log = (home / "dashboard.log").open("wb")
    server = subprocess.Popen([str(PROVENANCE_BIN), "dashboard", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:
            if server.poll() is not None:
                pytest.fail("dashboard exited: " + (home / "dashboard.log").read_text(errors="replace")[-2000:])
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                return response.status == 200

        wait_until(healthy, timeout=STARTUP_GUARD_S, interval=0.5, what="dashboard health check")
        yield url
    finally:
        stop_pid(server, timeout=20)
        log.close()


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def only_local(page: Any, base_url: str, outside: list[str]) -> None:
    """Abort every request that would leave ``base_url`` (recorded in ``outside``)."""

    def route(request_route: Any) -> None:
        if request_route.request.url.startswith(base_url):
            request_route.continue_()
        else:
            outside.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)


def sign_in(page: Any, name: str, password: str) -> None:
    """Fill the sign-in form and wait for the review queue."""
    from playwright.sync_api import expect

    page.get_by_role("textbox", name="Account").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible(timeout=UI_GUARD_MS)


def wait_for_audit_rows(home: Path, action: str, count: int) -> None:
    """Block until the store holds ``count`` audit rows of ``action`` (a hang guard, not a timing check)."""
    url = f"sqlite:///{home / 'provenance.sqlite'}"

    def rows() -> int:
        with session_scope(url) as db:
            return len(db.scalars(select(AuditLog).where(AuditLog.action == action)).all())

    wait_until(rows, timeout=UI_GUARD_MS / 1000, done=lambda n: n >= count, what=f"{count} {action} audit rows")
