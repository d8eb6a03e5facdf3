"""Tenants in the dashboard (issue #27 d): reviewer accounts belong to a tenant and see only its jobs, verdicts,
statistics and audit rows; a platform-admin (made on the command line) sees every tenant; another tenant's item
reads exactly like a missing one. Real SQLite, the real Streamlit app through AppTest, the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text, update
from streamlit.testing.v1 import AppTest

from dashboard.review_state import STATE_KEY, ReviewState
from provenance import review
from provenance.apikeys import create_api_key
from provenance.review.accounts import add_reviewer, authenticate, list_reviewers
from provenance.store import ScanJob, session_scope, upgrade
from provenance.store.models import utcnow
from testkit.review_seed import seed_demo_verdicts
from tests.cli_support import run_cli

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORD = "a test passphrase"
TIMEOUT = 120


@pytest.fixture
def two_tenants(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """40 verdicts of the default tenant's job, 30 of the partner's; one account each and a platform-admin."""
    url = f"sqlite:///{clean_env / 'provenance.sqlite'}"
    upgrade(url)
    monkeypatch.setenv("PROVENANCE_DATABASE_URL", url)
    create_api_key(url, name="partner-scan", scopes="scan", tenant="partner")
    with session_scope(url) as db:
        seed_demo_verdicts(db, 40, seed=1, job_id="job-default")
        seed_demo_verdicts(db, 30, seed=2, job_id="job-partner")
        db.execute(update(ScanJob).where(ScanJob.id == "job-partner").values(tenant="partner"))
    add_reviewer(url, "dana", PASSWORD)  # --tenant default
    add_reviewer(url, "pat", PASSWORD, tenant="partner")
    add_reviewer(url, "root", PASSWORD, role="platform-admin")
    return url


def _job_of(db, verdict_id: int) -> str:
    from provenance.store import VerdictRow

    return db.get(VerdictRow, verdict_id).job_id


def test_review_functions_keep_to_the_tenant(two_tenants: str) -> None:
    url = two_tenants
    with session_scope(url) as db:
        partner = review.queue_page(db, review.QueueFilters(tenant="partner"), limit=500).rows
        default = review.queue_page(db, review.QueueFilters(tenant="default"), limit=500).rows
        everyone = review.queue_page(db, review.QueueFilters(), limit=500).rows
        assert partner and default and len(partner) + len(default) == len(everyone)
        assert {row.job_id for row in partner} == {"job-partner"}
        assert review.queue_count(db, review.QueueFilters(tenant="partner")) == len(partner)
        assert review.job_ids(db, tenant="partner") == ["job-partner"]
        assert [job["job"] for job in review.jobs(db, tenant="partner")] == ["job-partner"]
        assert sum(review.verdict_distribution(db, tenant="partner").values()) == 30
        assert review.review_counts(db, tenant="default")["verdicts"] == 40
        foreign = default[0].id
        # Another tenant's item reads like a missing one: no claim, no detail, no decision.
        claimed = review.claim(db, foreign, "pat", 600, tenant="partner")
        assert not claimed.ok and claimed.message == f"item {foreign} does not exist"
        assert review.item_detail(db, foreign, tenant="partner") is None
        with pytest.raises(review.ReviewError, match="does not exist"):
            review.decide(db, foreign, "pat", "human", tenant="partner")
        nxt = review.claim_next(db, "pat", 600, review.QueueFilters(tenant="partner"))
        assert nxt is not None and _job_of(db, nxt.verdict_id) == "job-partner"
        review.decide(db, nxt.verdict_id, "pat", "machine", tenant="partner")
        detail = review.item_detail(db, nxt.verdict_id, tenant="partner")
        assert detail is not None and len(detail.decisions) == 1
    authenticate(url, "pat", "wrong password", client="192.0.2.7")
    with session_scope(url) as db:
        partner_audit = review.audit_rows(db, tenant="partner")
        default_audit = review.audit_rows(db, tenant="default")
        assert partner_audit and {row["actor"] for row in partner_audit} == {"pat"}
        assert all(row["actor"] != "pat" for row in default_audit)
        assert review.agreement(db, tenant="default")["decisions"] == 0
        assert review.agreement(db, tenant="partner")["decisions"] == 1


def _signed_in(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.text_input[0].input(name)
    at.text_input[1].input(PASSWORD)
    at.button[0].click()
    at.run()
    assert not at.exception
    return at


def _queue_jobs(at: AppTest) -> set[str]:
    frame = at.dataframe[0].value
    return set(frame["job"])


def test_each_reviewer_sees_only_its_tenant_and_the_platform_admin_sees_all(two_tenants: str) -> None:
    pat = _signed_in("pat")
    assert pat.session_state["account"].tenant == "partner"
    assert _queue_jobs(pat) == {"job-partner"}
    pat.switch_page("views/jobs.py")
    pat.run()
    assert not pat.exception and set(pat.dataframe[0].value["job"]) == {"job-partner"}
    dana = _signed_in("dana")
    assert _queue_jobs(dana) == {"job-default"}
    root = _signed_in("root")
    with session_scope(two_tenants) as db:
        everyone = review.queue_count(db)
    assert root.metric[0].value == f"{everyone:,}"
    # Opening another tenant's item by id (the "Open item" box only offers the page's ids; a crafted session
    # state is the worst case) shows nothing of it.
    with session_scope(two_tenants) as db:
        foreign = review.queue_page(db, review.QueueFilters(tenant="default"), limit=1).rows[0].id
    pat.switch_page("views/queue.py")
    pat.session_state[STATE_KEY] = ReviewState(item_id=foreign)
    pat.run()
    assert not pat.exception and any(f"item {foreign} does not exist" in w.value for w in pat.warning)


def test_reviewer_cli_takes_a_tenant_and_refuses_an_unknown_one(clean_env: Path, capsys, monkeypatch) -> None:
    url = f"sqlite:///{clean_env / 'provenance.sqlite'}"
    upgrade(url)
    monkeypatch.setenv("PROVENANCE_DATABASE_URL", url)
    create_api_key(url, name="partner-scan", scopes="scan", tenant="partner")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    code, _out, err = run_cli(capsys, "reviewer", "add", "pat", "--tenant", "partner")
    assert code == 0, err
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    code, _out, err = run_cli(capsys, "reviewer", "add", "eve", "--tenant", "nobody")
    assert code != 0 and "unknown tenant 'nobody'" in err and "Traceback" not in err
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(PASSWORD + "\n"))
    code, _out, err = run_cli(capsys, "reviewer", "add", "root", "--role", "platform-admin")
    assert code == 0, err
    accounts = {record["name"]: (record["role"], record["tenant"]) for record in list_reviewers(url)}
    assert accounts == {"pat": ("reviewer", "partner"), "root": ("platform-admin", "default")}


def test_migration_gives_existing_accounts_the_default_tenant(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    upgrade(url, "0002")
    from provenance.store.engine import get_engine

    now = utcnow().isoformat(sep=" ")
    with get_engine(url).begin() as connection:
        connection.execute(text("INSERT INTO reviewers (name, password_hash, role, created_at, password_changed_at) "
                                "VALUES ('old', 'x', 'admin', :now, :now)"), {"now": now})
    upgrade(url)
    assert [(r["name"], r["role"], r["tenant"]) for r in list_reviewers(url)] == [("old", "admin", "default")]
