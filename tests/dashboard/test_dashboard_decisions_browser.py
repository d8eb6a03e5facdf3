"""The reviewer's decision flow in a real browser at 1366x768 (Debian's Chromium, Playwright, `provenance
dashboard` on 127.0.0.1): a double Enter or a held shortcut key decides at most one item, an undo restores the
item and the audit keeps both steps, the decision controls are on screen without scrolling on every item, Skip
and "Review next item" never return the open item, and an escalated item is never settled by its escalator.

One server and one seeded store serve the module; every test signs in as its own reviewer, so the tests do not
share decisions. Nothing here is a timing check: waits are hang guards (``UI_GUARD_MS``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dashboard.item import ARM_MS
from provenance.review.accounts import add_reviewer
from provenance.store import AuditLog, ReviewDecision, ReviewLease, VerdictRow, session_scope, upgrade
from testkit.review_seed import seed_demo_verdicts
from tests.dashboard.browser import UI_GUARD_MS, launch_chromium, needs_chromium, running_dashboard, sign_in

pytestmark = [needs_chromium, pytest.mark.slow]

PASSWORD = "an invented decisions passphrase"
REVIEWERS = ("alice", "bob", "carol", "dave", "erin", "frank", "gina")
VIEWPORT = {"width": 1366, "height": 768}
DECISIONS = ("machine", "human", "misuse", "escalate")
HEADING = re.compile(r"Item (\d+) ·")
# Streamlit marks its root while a run is requested or in progress (a click sets it at once, before the server
# answers); "notRunning" means the clicks so far have been handled and stale elements are gone.
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


@pytest.fixture(scope="module")
def store_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("decisions") / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'provenance.sqlite'}"
    upgrade(url)
    with session_scope(url) as db:
        seed_demo_verdicts(db, 120, seed=11)
    for name in REVIEWERS:
        add_reviewer(url, name, PASSWORD)
    return home


@pytest.fixture(scope="module")
def base_url(store_home: Path) -> Iterator[str]:
    # A long undo window only so that a slow, shared machine cannot close it between two clicks; the default
    # (20 s) is what the undo unit tests exercise.
    with running_dashboard(store_home, {"PROVENANCE_REVIEW_UNDO_SECONDS": "600"}) as url:
        yield url


@pytest.fixture(scope="module")
def browser(base_url: str) -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_GUARD_MS)  # a hang guard for a slow, shared machine (not a timing check)
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser: Any, base_url: str, reviewer: str) -> Any:
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(UI_GUARD_MS)
    page.goto(base_url)
    sign_in(page, reviewer, PASSWORD)
    return page


def _db(home: Path) -> str:
    return f"sqlite:///{home / 'provenance.sqlite'}"


def _open_item(page: Any) -> int:
    """The id of the open item, once its heading is drawn and no script run is pending."""
    from playwright.sync_api import expect

    heading = page.locator(".st-key-item-card h3")
    expect(heading).to_be_visible()
    _settle(page)
    match = HEADING.match(heading.inner_text())
    assert match, heading.inner_text()
    return int(match.group(1))


def _settle(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.locator(IDLE)).to_have_count(1)


def _next_item(page: Any, previous: int | None) -> int:
    """Wait until an item other than ``previous`` is open; its id."""
    from playwright.sync_api import expect

    if previous is not None:
        expect(page.locator(".st-key-item-card h3")).not_to_have_text(re.compile(rf"^Item {previous} ·"))
    current = _open_item(page)
    assert current != previous
    return current


def _button(page: Any, decision: str, item: int) -> Any:
    """The decision button drawn for ``item`` (buttons are keyed by item id)."""
    return page.locator(f".st-key-decide-{decision}-{item} button")


def _decisions(home: Path, reviewer: str) -> list[tuple[int, str, bool]]:
    with session_scope(_db(home)) as db:
        return [(d.verdict_id, d.decision, d.superseded_at is None) for d in db.scalars(
            select(ReviewDecision).where(ReviewDecision.reviewer == reviewer).order_by(ReviewDecision.id))]


def _past_arming(page: Any) -> None:
    """Let the new item's arming period (keys and Enter ignored) run out, as a reader's first glance does; a
    pause, not an assertion."""
    page.wait_for_timeout(ARM_MS + 600)


def _scroll_down(page: Any) -> None:
    page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollTop = 600")


def _sync(page: Any) -> None:
    """Open the Jobs page and wait for it: the browser sends its messages in order and the server handles
    them in order, so once Jobs is drawn every key press and click before it has been handled."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    _settle(page)


def test_a_double_enter_decides_at_most_one_item(browser: Any, base_url: str, store_home: Path) -> None:
    page = _page(browser, base_url, "alice")
    page.get_by_role("button", name="Review next item").click()
    first = _open_item(page)
    _scroll_down(page)
    _past_arming(page)
    _button(page, "human", first).focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    second = _next_item(page, first)
    # The new item opens at the top, its heading focused, no decision button focused.
    assert page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollTop") == 0
    assert page.evaluate("document.activeElement.tagName") != "BUTTON"
    box = page.locator(".st-key-item-card h3").bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"]
    page.keyboard.press("Enter")  # a third Enter, now on the new item: lands on no button
    _sync(page)
    assert _decisions(store_home, "alice") == [(first, "human", True)]
    with session_scope(_db(store_home)) as db:
        assert db.get(VerdictRow, second).review_status is None
        assert db.get(ReviewLease, second).reviewer == "alice"
    page.context.close()


def test_shortcut_keys_pressed_twice_or_held_decide_one_item_each(browser: Any, base_url: str,
                                                                   store_home: Path) -> None:
    from playwright.sync_api import expect

    page = _page(browser, base_url, "gina")
    page.get_by_role("button", name="Review next item").click()
    first = _open_item(page)
    expect(page.get_by_text("Keys: M machine")).to_be_visible()  # the shortcuts are shown on the page
    _past_arming(page)
    page.keyboard.press("m")
    page.keyboard.press("m")
    second = _next_item(page, first)
    _past_arming(page)  # so that the held key's first press counts
    page.keyboard.down("x")
    page.keyboard.down("x")  # held: the browser marks the second keydown as a repeat
    page.keyboard.down("x")
    page.keyboard.up("x")
    _next_item(page, second)
    _sync(page)
    assert _decisions(store_home, "gina") == [(first, "machine", True), (second, "misuse", True)]
    page.context.close()


def test_undo_restores_the_item_and_the_audit_shows_both(browser: Any, base_url: str, store_home: Path) -> None:
    from playwright.sync_api import expect

    page = _page(browser, base_url, "bob")
    page.get_by_role("button", name="Review next item").click()
    item = _open_item(page)
    _button(page, "human", item).click()
    nxt = _next_item(page, item)
    undo = page.get_by_role("button", name=f"Undo 'human' for item {item}")
    expect(undo).to_be_visible()
    undo.click()
    assert _next_item(page, nxt) == item
    expect(page.get_by_text(f"Undid 'human' for item {item}: it is open again.")).to_be_visible()
    url = _db(store_home)
    with session_scope(url) as db:
        assert db.get(VerdictRow, item).review_status is None
        assert db.get(ReviewLease, item).reviewer == "bob"
        assert db.get(ReviewLease, nxt) is None  # the item that had opened after the decision went back
        actions = [a.action for a in db.scalars(select(AuditLog).where(AuditLog.subject_id == str(item))
                                                .order_by(AuditLog.id))]
        assert actions == ["review.decide", "review.undo"]
    assert _decisions(store_home, "bob") == [(item, "human", False)]  # kept, marked superseded

    # Decide again, then change it under "My recent decisions": the old decision stays, the change is audited.
    _button(page, "misuse", item).click()
    _next_item(page, item)
    page.get_by_text("My recent decisions").click()
    page.get_by_role("radiogroup", name="Change to").get_by_text("machine", exact=True).click()
    _settle(page)
    page.get_by_role("button", name="Change", exact=True).click()
    expect(page.get_by_text(f"Changed your decision on item {item} to 'machine'.")).to_be_visible()
    assert _decisions(store_home, "bob") == [(item, "human", False), (item, "misuse", False),
                                             (item, "machine", True)]
    with session_scope(url) as db:
        actions = [a.action for a in db.scalars(select(AuditLog).where(AuditLog.subject_id == str(item))
                                                .order_by(AuditLog.id))]
        assert actions == ["review.decide", "review.undo", "review.decide", "review.change"]
    page.context.close()


def test_decision_controls_are_on_screen_without_scrolling_on_every_item(browser: Any, base_url: str,
                                                                          store_home: Path) -> None:
    page = _page(browser, base_url, "carol")
    page.get_by_role("button", name="Review next item").click()
    item = _open_item(page)
    seen = []
    for _ in range(5):
        seen.append(item)
        for decision in DECISIONS:
            box = _button(page, decision, item).bounding_box()
            assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], \
                (item, decision, box)
        _scroll_down(page)  # the next item must open at the top again, not at this scroll position
        page.get_by_role("button", name="Skip").click()
        item = _next_item(page, item)
    assert len(set(seen)) == len(seen)
    page.context.close()


def test_skip_and_review_next_hand_out_a_different_item_and_release_is_audited(
        browser: Any, base_url: str, store_home: Path) -> None:
    from playwright.sync_api import expect

    page = _page(browser, base_url, "dave")
    page.get_by_role("button", name="Review next item").click()
    first = _open_item(page)
    page.get_by_role("button", name="Skip").click()
    second = _next_item(page, first)
    assert second != first
    page.get_by_role("button", name="Review next item").click()
    third = _next_item(page, second)
    assert third not in (first, second)
    page.get_by_role("button", name="Release").click()
    expect(page.get_by_text(f"Released item {third}: it is back in the queue.")).to_be_visible()
    with session_scope(_db(store_home)) as db:
        rows = db.scalars(select(AuditLog).where(AuditLog.actor == "dave", AuditLog.action.like("review.%"))
                          .order_by(AuditLog.id)).all()
        assert [(r.action, r.subject_id) for r in rows] == [("review.skip", str(first)), ("review.skip", str(second)),
                                                            ("review.release", str(third))]
        assert db.scalars(select(ReviewLease).where(ReviewLease.reviewer == "dave")).all() == []
    assert _decisions(store_home, "dave") == []
    page.context.close()


def _escalated_queue(page: Any) -> None:
    """Switch to the escalated queue and wait until the list shows it (erin's is the module's only escalation)."""
    from playwright.sync_api import expect

    page.get_by_text("escalated", exact=True).click()
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("1")
    _settle(page)


def test_an_escalated_item_is_never_settled_by_its_escalator(browser: Any, base_url: str,
                                                            store_home: Path) -> None:
    from playwright.sync_api import expect

    page = _page(browser, base_url, "erin")
    page.get_by_role("button", name="Review next item").click()
    item = _open_item(page)
    _button(page, "escalate", item).click()
    _next_item(page, item)
    page.get_by_role("button", name="Release").click()
    _settle(page)
    _escalated_queue(page)
    page.get_by_role("button", name="Review next item").click()
    expect(page.get_by_text("The queue is empty.")).to_be_visible()  # her own escalation is not handed to her
    page.get_by_role("combobox", name="Open item").click()
    page.get_by_role("option", name=str(item), exact=True).click()
    _settle(page)
    expect(page.locator(".st-key-open-item button")).to_be_enabled()
    page.locator(".st-key-open-item button").click()
    expect(page.get_by_text(f"you escalated item {item}")).to_be_visible()
    page.context.close()
    with session_scope(_db(store_home)) as db:
        assert db.get(VerdictRow, item).review_status == "escalated"

    other = _page(browser, base_url, "frank")
    _escalated_queue(other)
    other.get_by_role("button", name="Review next item").click()
    assert _open_item(other) == item
    _button(other, "machine", item).click()
    expect(other.get_by_text(f"Recorded 'machine' for item {item}")).to_be_visible()
    other.context.close()
    with session_scope(_db(store_home)) as db:
        assert db.get(VerdictRow, item).review_status == "decided"
    assert _decisions(store_home, "erin") == [(item, "escalate", True)]
    assert _decisions(store_home, "frank") == [(item, "machine", True)]
