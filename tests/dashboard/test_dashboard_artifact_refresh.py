"""A store-fed dashboard follows a promotion made on another host without a restart: the same running app
(AppTest, in process, real SQLite store) fetches the newly published bundle on a later page run, and the Stats
page shows it as the active bundle."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.artifact_refresh import forget
from provenance.artifacts import DETECTOR, KEYS, installed, publish
from provenance.bundles import bundle_version
from provenance.review.accounts import add_reviewer
from provenance.settings import Settings
from provenance.store import upgrade
from tests.conftest import install_bundle, write_signed_state

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORD = "a test passphrase"
SECRET = "an-invented-key-encryption-key-for-tests"
TIMEOUT = 120


@pytest.fixture
def publisher(tmp_path: Path, trained_bundle: Path) -> Settings:
    home = tmp_path / "publisher"
    install_bundle(trained_bundle, home)
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    upgrade(url)
    add_reviewer(url, "alice", PASSWORD)
    return Settings(home=home, database_url=url, secret_key=SECRET)


def store_fed_dashboard(clean_env: Path, publisher: Settings, monkeypatch: pytest.MonkeyPatch,
                        every: str) -> AppTest:
    """The dashboard of a host with the empty home ``clean_env``, signed in (its first run syncs)."""
    monkeypatch.setenv("PROVENANCE_DATABASE_URL", publisher.resolved_database_url)
    monkeypatch.setenv("PROVENANCE_ARTIFACTS_FROM_STORE", "1")
    monkeypatch.setenv("PROVENANCE_SECRET_KEY", SECRET)
    monkeypatch.setenv("PROVENANCE_DASHBOARD_ARTIFACT_SYNC_SECONDS", every)
    forget()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    at.text_input[0].input("alice")
    at.text_input[1].input(PASSWORD)
    at.button[0].click()
    at.run()
    assert not at.exception and at.session_state["account"].name == "alice"
    return at


def promote_candidate(publisher: Settings, trained_bundle: Path) -> str:
    """`detect promote candidate` on the publishing host, which publishes the new active bundle."""
    install_bundle(trained_bundle, publisher.home, name="candidate")
    write_signed_state(publisher.home, {"active": "candidate", "history": [
        {"kind": "promote", "name": "candidate", "previous": "default", "at": "2026-01-01T00:00:00Z"}]})
    return {record["kind"]: record["digest"] for record in publish(publisher, (DETECTOR,))}[DETECTOR]


def test_a_promotion_published_elsewhere_reaches_the_running_dashboard(
        clean_env: Path, publisher: Settings, trained_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(publisher)
    at = store_fed_dashboard(clean_env, publisher, monkeypatch, every="0")
    assert set(installed(clean_env)) == {KEYS, DETECTOR}
    host = Settings(home=clean_env)
    assert bundle_version(host).startswith("default:")

    digest = promote_candidate(publisher, trained_bundle)
    at.switch_page("views/stats.py").run()  # the same server process: no restart
    assert not at.exception
    assert installed(clean_env)[DETECTOR] == digest
    assert bundle_version(host) == bundle_version(publisher) and bundle_version(host).startswith("candidate:")
    assert any(metric.label == "Active bundle" and metric.value == "candidate" for metric in at.metric)
    assert any("Fetched from the store: detector-bundle" in caption.value for caption in at.sidebar.caption)


def test_the_store_is_asked_at_most_once_per_interval(
        clean_env: Path, publisher: Settings, trained_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(publisher)
    at = store_fed_dashboard(clean_env, publisher, monkeypatch, every="3600")
    first = installed(clean_env)[DETECTOR]
    promote_candidate(publisher, trained_bundle)
    at.run()
    assert not at.exception and installed(clean_env)[DETECTOR] == first  # within the interval: not asked again


def test_a_store_it_cannot_read_is_a_warning_and_the_pages_still_work(
        clean_env: Path, publisher: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(publisher)
    monkeypatch.setenv("PROVENANCE_DATABASE_URL", publisher.resolved_database_url)
    monkeypatch.setenv("PROVENANCE_ARTIFACTS_FROM_STORE", "1")
    monkeypatch.setenv("PROVENANCE_SECRET_KEY", "another-invented-secret-of-some-length")
    forget()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("could not be fetched from the store" in warning.value and "does not decrypt" in warning.value
               for warning in at.warning)
    assert [t.label for t in at.text_input] == ["Account", "Password"]  # the sign-in page still drew
