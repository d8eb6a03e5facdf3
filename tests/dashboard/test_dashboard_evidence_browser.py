"""The item page explains every flag, in Chromium at 1366x768: a misuse item shows its toxicity evidence, the
priority's parts add up to the priority shown, the watermark names its threshold; a reload keeps the reviewer
signed in, ``?item=ID`` opens that item, the audit page filters by action and reviewer prefix, and the Stats
histogram's bins are in numeric order. Helpers (server, browser flags, guards) come from
``tests/dashboard/test_dashboard_browser.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from provenance import review
from provenance.pipeline.document_scoring import review_priority
from provenance.review.accounts import add_reviewer
from provenance.store import Document, VerdictRow, session_scope, upgrade
from provenance.store.audit import audit
from testkit.review_seed import seed_demo_verdicts
from testkit.verdicts import verdict_row
from tests.dashboard.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    UI_GUARD_MS,
)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                                reason="Debian's Chromium is not installed at /usr/bin/chromium")
VIEWPORT = {"width": 1366, "height": 768}
TEXT = ("Dear neighbours, the invented lantern society meets on Thursday at <LOCATION> to plan the winter walk, "
        "and everyone who wants to carry a lamp should bring warm gloves and a flask of tea.")
# An invented toxicity record of the kind: machine text leaning toxic, under the bundle's threshold.
TOXICITY = {"p_toxic": 0.58, "toxic": False, "categories": ["offensive"], "note": None}
WATERMARK = {"z_score": 4.8, "p_value": 8e-7, "watermarked": True, "num_tokens_scored": 140, "keys_tested": 1,
             "p_value_threshold": 3.167e-05, "fpr": None, "min_tokens_required": 16, "too_short": False,
             "scheme": "lefthash", "key_id": "wm-invented"}


def _verdict(document_id: int, **columns) -> VerdictRow:
    values = {"bundle_version": "demo", "job_id": "demo-job", "p_machine": 0.5, "verdict": "uncertain",
              "margin": 0.2, "detectors": {"fast_detectgpt": 0.4, "classifier": 1.2}, "watermark": {},
              "watermarked": False, "pii": [], "pii_count": 0, "pii_types": "", "misuse": False, **columns}
    _, priority = review_priority(misuse=values["misuse"], watermarked=values["watermarked"],
                                  verdict=values["verdict"], p_machine=values["p_machine"], margin=values["margin"],
                                  pii_count=values["pii_count"], ledger_match=False)
    return verdict_row(document_id=document_id, needs_review=True, review_priority=priority, **values)


@pytest.fixture
def flagged_home(clean_env: Path) -> tuple[Path, dict[str, int]]:
    """Seeded demo verdicts, a misuse-flagged watermarked machine text on top (priority from the pipeline's own
    function), a second item to link to, audit rows of reviewers and of the API, and the account alice."""
    url = f"sqlite:///{clean_env / 'provenance.sqlite'}"
    upgrade(url)
    start = TEXT.index("<LOCATION>")
    with session_scope(url) as db:
        seed_demo_verdicts(db, 30, seed=4)
        ids = {}
        for key, content in (("misuse", TEXT), ("linked", "An invented note about a bridge, long enough to read."),
                             ("held", "An invented memo about a ferry timetable, held by another reviewer.")):
            document = Document(content_hash=(key * 64)[:64], source_id=f"upload/{key}", num_chars=len(content),
                                redacted_text=content)
            db.add(document)
            db.flush()
            if key == "misuse":
                # a close machine call (margin 0.05) as well, so it tops every seeded row by the pipeline's rule
                verdict = _verdict(document.id, verdict="machine", p_machine=0.93, margin=0.05, toxicity=TOXICITY,
                                   p_toxic=TOXICITY["p_toxic"], misuse=True, watermark=WATERMARK, watermarked=True,
                                   watermark_z=WATERMARK["z_score"], watermark_p=WATERMARK["p_value"],
                                   pii=[{"type": "LOCATION", "start": start, "end": start + 10, "score": 0.9}],
                                   pii_count=1, pii_types=",LOCATION,")
            else:
                verdict = _verdict(document.id, p_machine=0.47 if key == "linked" else 0.45)
            db.add(verdict)
            db.flush()
            ids[key] = verdict.id
        for actor, action in (("albert", "review.decide"), ("alfie", "review.decide"), ("bob", "review.decide"),
                              ("albert", "generate"), ("bob", "verify")):
            audit(db, actor=actor, action=action, subject_type="verdict", subject_id="1")
    for name in ("alice", "albert", "alfie", "bob"):  # a tenant's audit shows its own accounts' rows
        add_reviewer(url, name, PASSWORD)
    with session_scope(url) as db:
        assert review.claim(db, ids["held"], "bob", 3600).ok
    return clean_env, ids


def _sign_in(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="Account").fill("alice")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@pytest.mark.slow
def test_item_page_explains_misuse_priority_and_watermark_and_survives_a_reload(
        dashboard_url: str, flagged_home: tuple[Path, dict[str, int]]) -> None:
    from playwright.sync_api import expect, sync_playwright

    _, ids = flagged_home
    item = ids["misuse"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = _browser(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(UI_GUARD_MS)
            _sign_in(page, dashboard_url)
            page.get_by_role("button", name="Review next item").click()
            expect(page.get_by_text(f"Item {item} · machine")).to_be_visible()

            # misuse: its toxicity evidence, the rule that fired, and that the verdict label stays
            expect(page.get_by_text("p_toxic = 0.580", exact=False)).to_be_visible()
            expect(page.get_by_text("categories: offensive", exact=False)).to_be_visible()
            expect(page.get_by_text("machine-generated and leaning toxic", exact=False)).to_be_visible()
            expect(page.get_by_text("does not replace the machine/human verdict", exact=False)).to_be_visible()

            # the priority's parts add up to the priority in the item's header
            header = page.get_by_text(re.compile(r"^priority \d+\.\d{3} · job")).inner_text()
            shown = float(re.search(r"priority (\d+\.\d{3})", header).group(1))
            formula = page.get_by_text(re.compile(r"^priority = ")).inner_text()
            parts = [float(x) for x in re.findall(r"[a-z_]+ (\d+\.\d{3})", formula.split("=")[1])]
            assert len(parts) >= 3 and sum(parts) == pytest.approx(shown, abs=2e-3)

            # the watermark's threshold beside its z and p
            expect(page.get_by_text("z = 4.80", exact=False)).to_be_visible()
            expect(page.get_by_text(re.compile(r"Threshold: watermarked when p < 3\.17e-05"))).to_be_visible()
            page.get_by_text("Detector scores", exact=True).scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "dashboard-evidence-item.png"))

            # a reload keeps the reviewer signed in, and the open item's URL reopens it
            assert f"item={item}" in page.url and "session=" in page.url
            page.reload()
            expect(page.get_by_text("Signed in as alice", exact=False)).to_be_visible()
            expect(page.get_by_text(f"Item {item} · machine")).to_be_visible()
            expect(page.get_by_role("textbox", name="Password")).to_have_count(0)

            # a per-item URL in a fresh browser (no session): sign in, and that item opens
            other = browser.new_page(viewport=VIEWPORT)
            other.set_default_timeout(UI_GUARD_MS)
            _sign_in(other, f"{dashboard_url}/?item={ids['linked']}")
            expect(other.get_by_text(f"Item {ids['linked']} · uncertain")).to_be_visible()
            # the link follows the claim rules: an item another reviewer holds is refused, naming the holder
            _sign_in(other, f"{dashboard_url}/?item={ids['held']}")
            expect(other.get_by_text(f"Item {ids['held']} from the link", exact=False)).to_be_visible()
            expect(other.get_by_text(f"item {ids['held']} is taken by bob", exact=False)).to_be_visible()
            expect(other.get_by_text(f"Item {ids['held']} · uncertain")).to_have_count(0)
        finally:
            browser.close()


@pytest.mark.slow
def test_audit_filters_by_action_and_prefix_and_histogram_bins_are_in_order(
        dashboard_url: str, flagged_home: tuple[Path, dict[str, int]]) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = _browser(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(UI_GUARD_MS)
            _sign_in(page, dashboard_url)
            expect(page.get_by_text("Signed in as alice", exact=False)).to_be_visible()

            page.get_by_role("link", name="Audit").click()  # (a typed URL would carry no session token)
            # by default the reviewers' actions only: the 3 review.decide rows (not generate, verify, sign-ins)
            expect(page.get_by_text("3 entries", exact=False)).to_be_visible()
            page.get_by_role("textbox", name="Reviewer (name or its start)").fill("al")
            page.keyboard.press("Enter")
            expect(page.get_by_text("2 entries", exact=False)).to_be_visible()  # albert and alfie
            page.locator("[data-testid='stMultiSelect']").get_by_role("combobox").click()
            page.get_by_role("option", name="generate", exact=True).click()
            page.keyboard.press("Escape")
            expect(page.get_by_text("3 entries", exact=False)).to_be_visible()  # + albert's generate row
            page.screenshot(path=str(ARTIFACTS / "dashboard-audit-filters.png"))

            page.get_by_role("link", name="Stats").click()
            expect(page.get_by_text("Watermark z-score histogram")).to_be_visible()
            labels = _axis_labels(page, 1)  # in page order: verdicts, then the z-score histogram (left column)
            numbers = [float(label) for label in labels if re.fullmatch(r"[+-]\d+\.\d", label)]
            assert len(numbers) >= 10 and numbers == sorted(numbers)
        finally:
            browser.close()


def _axis_labels(page, index: int) -> list[str]:
    """The x-axis labels of the ``index``-th Vega chart on the page, in drawing order (Streamlit draws charts
    as SVG; Vega puts axis labels in ``role-axis-label`` groups)."""
    chart = page.locator(".vega-embed").nth(index)
    chart.locator("svg").first.wait_for()
    return [text.strip() for text in chart.locator("g.role-axis-label text").all_text_contents()]
