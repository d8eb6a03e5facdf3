"""End to end in a real browser: `provenance dashboard` on 127.0.0.1, Debian's Chromium driven by Playwright.

A reviewer signs in with an account (after three wrong passwords, the third of which imposes a wait), opens
the most urgent item (a stamped, watermarked generation with an e-mail address), sees the green/red tokens,
the PII span and the manifest's valid signature, records a decision, and the database holds the decision and
its audit rows. No request may leave 127.0.0.1. A screenshot is saved under ``$PROVENANCE_TEST_ARTIFACTS``
(default ``tests/artifacts/``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from provenance.review.accounts import FREE_FAILURES, add_reviewer
from provenance.store import AuditLog, Document, ReviewDecision, VerdictRow, session_scope, upgrade
from provenance.store.ledger import record_manifest
from testkit.review_seed import seed_demo_verdicts
from testkit.verdicts import verdict_row
from tests.dashboard.browser import (
    ARTIFACTS,
    PASSWORD,
    UI_GUARD_MS,
    launch_chromium,
    needs_chromium,
    only_local,
    wait_for_audit_rows,
)

PREFIX = "Please write to <EMAIL_ADDRESS> before Friday. "

pytestmark = needs_chromium


@pytest.fixture
def flagged_home(clean_env: Path, micro_model, micro_model_dir: Path) -> tuple[Path, int]:
    """A data directory with keys, a signed ledger manifest, and a seeded store whose top item is the
    stamped generation with a redacted e-mail address in front of it."""
    from generator import SamplingConfig
    from provenance.keystore import KeyStore
    from provenance.settings import Settings
    from provenance.stamped_generation import generate_stamped

    settings = Settings(home=clean_env, model=str(micro_model_dir))
    # A strong watermark (the micro model's text is low-entropy) so the windowed span shows in the screenshot.
    KeyStore(clean_env).create(micro_model.tokenizer, delta=6.0)
    (stamped,) = generate_stamped(settings, micro_model, ["The old captain"],
                                  SamplingConfig(max_new_tokens=58, min_new_tokens=58, seed=7))
    text = PREFIX + stamped.generation.text
    # What the pipeline's watermark signal stores with a verdict: the record plus per-token evidence.
    from provenance.signals import build_signal

    signal = build_signal("watermark", settings, tokenizer=micro_model.tokenizer, evidence=True)
    watermark = signal.score([text])[0].record()
    # The toy registered signal of tests/provenance/test_signal_registry.py: its stored record gets a panel of its own.
    from tests.provenance.test_signal_registry import VowelSignal

    toy = VowelSignal(settings)
    url = settings.resolved_database_url
    upgrade(url)
    with session_scope(url) as db:
        seed_demo_verdicts(db, 40, seed=9)
        record_manifest(db, stamped.manifest)
        document = Document(content_hash="f" * 64, source_id="upload/letter-17", num_chars=len(text),
                            redacted_text=text)
        db.add(document)
        db.flush()
        start = PREFIX.index("<")
        verdict = verdict_row(document_id=document.id, bundle_version="demo", job_id="demo-job", p_machine=0.91,
                          verdict="machine", margin=0.02, detectors={"perplexity": 0.88, "classifier": 0.93,
                                                                     "fast_detectgpt": 0.79},
                          reasons=["low perplexity"], num_tokens=100, watermark=watermark,
                          watermarked=True, watermark_z=5.1, watermark_p=1e-7,
                          ledger_manifest_id=stamped.manifest["id"],
                          pii=[{"type": "EMAIL_ADDRESS", "start": start, "end": start + 15, "score": 1.0}],
                          pii_count=1, pii_types=",EMAIL_ADDRESS,", needs_review=True, review_priority=100.0,
                          signals={"vowels": toy.score([text])[0].record()}, versions={"vowels": toy.version})
        db.add(verdict)
        db.flush()
        verdict_id = verdict.id
    add_reviewer(url, "alice", PASSWORD)
    return clean_env, verdict_id


@pytest.mark.slow
def test_reviewer_decides_an_item_in_a_real_browser(dashboard_url: str, flagged_home: tuple[Path, int]) -> None:
    from playwright.sync_api import expect, sync_playwright

    home, top_item = flagged_home
    outside: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 2000})
            page.set_default_timeout(UI_GUARD_MS)
            only_local(page, dashboard_url, outside)
            page.goto(dashboard_url)
            page.get_by_role("textbox", name="Account").fill("alice")
            # Guessing: the third wrong password imposes a wait. Each attempt is synchronised on its audit row
            # (Streamlit may coalesce clicks made while a rerun is still running).
            for attempt in range(1, FREE_FAILURES + 2):
                page.get_by_role("textbox", name="Password").fill(f"guess number {attempt}")
                page.get_by_role("button", name="Sign in").click()
                wait_for_audit_rows(home, "reviewer.signin_failed", attempt)
            expect(page.get_by_text("Wait 2 s before the next attempt.")).to_be_visible(timeout=UI_GUARD_MS)
            page.wait_for_timeout(2500)  # the imposed wait, not an assertion about speed
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
            expect(page).to_have_title("Review queue")
            expect(page.get_by_test_id("stDataFrame").first).to_be_visible()

            page.get_by_role("button", name="Review next item").click()
            expect(page.get_by_text(f"Item {top_item} · machine")).to_be_visible()
            evidence = page.locator(".ev-text").first
            expect(evidence.locator(".wm-green").first).to_be_visible()
            expect(evidence.locator(".wm-red").first).to_be_visible()
            expect(evidence.locator('[data-pii="EMAIL_ADDRESS"]').first).to_be_visible()
            expect(page.get_by_text("signature valid")).to_be_visible()
            expect(page.get_by_text("vowels:1")).to_be_visible()  # a registered signal's panel and version
            expect(page.get_by_text('"vowel_share"')).to_be_visible()
            page.wait_for_timeout(1500)  # let the charts paint for the screenshot (not an assertion)
            page.screenshot(path=str(ARTIFACTS / "dashboard-review-item.png"), full_page=True)

            page.get_by_role("textbox", name="Note").fill("watermarked, matches our ledger")
            page.get_by_role("button", name="Machine-generated").click()
            expect(page.get_by_text(f"Recorded 'machine' for item {top_item}")).to_be_visible()
            expect(page.get_by_text(f"Item {top_item} ·")).to_have_count(0)
            page.screenshot(path=str(ARTIFACTS / "dashboard-after-decision.png"), full_page=True)
        finally:
            browser.close()
    url = f"sqlite:///{home / 'provenance.sqlite'}"
    with session_scope(url) as db:
        decision = db.scalars(select(ReviewDecision)).one()
        assert (decision.verdict_id, decision.reviewer, decision.decision, decision.note) == \
            (top_item, "alice", "machine", "watermarked, matches our ledger")
        entry = db.scalars(select(AuditLog).where(AuditLog.action == "review.decide")).one()
        assert (entry.actor, entry.action, entry.subject_id) == ("alice", "review.decide", str(top_item))
        actions = [row.action for row in db.scalars(select(AuditLog).order_by(AuditLog.id))]
        assert actions.count("reviewer.signin_failed") == FREE_FAILURES + 1
        assert actions.count("reviewer.signin") == 1
        assert db.get(VerdictRow, top_item).review_status == "decided"
    assert outside == [], f"the dashboard tried to reach the outside: {outside}"
