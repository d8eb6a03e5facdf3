"""Fixtures the application-layer tests share: a data home with the trained micro bundle installed, the
environment a pipeline process is started with, pipeline settings on SQLite or PostgreSQL, and the API app,
its TestClient and fresh API keys (module-scoped: one app per test module)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from provenance.settings import Settings
from provenance.store import upgrade
from testkit.workers import worker_env
from tests.conftest import install_bundle
from tests.provenance.api_support import ALL_SCOPES, api_settings_for, prepare_home


@pytest.fixture
def pipeline_home(tmp_path: Path, micro_model_dir: Path, trained_bundle: Path) -> Path:
    """A data home holding the session's trained detector bundle (as `detect train` would leave it)."""
    home = tmp_path / "home"
    install_bundle(trained_bundle, home)
    return home


def pipeline_env(home: Path, model: Path, broker: str | None = None, database: str | None = None) -> dict[str, str]:
    """A worker's or `provenance scan`'s environment with small chunks and short leases, so a test's job spans
    several chunks and a killed worker's chunk comes back within seconds (``database``: a shared store, e.g.
    PostgreSQL, instead of the home's SQLite)."""
    extra = {"PROVENANCE_DATABASE_URL": database} if database else {}
    return worker_env(home, model, broker, PROVENANCE_SCAN_CHUNK_SIZE="4", PROVENANCE_STALL_SECONDS="4",
                      PROVENANCE_CHUNK_LEASE_SECONDS="10", PROVENANCE_TASK_TIME_LIMIT="8", **extra)


def pipeline_settings(home: Path, model_dir: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """In-process pipeline settings on the store at ``url`` (migrated), with 8-document chunks."""
    upgrade(url)
    monkeypatch.setenv("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    return Settings(home=home, model=str(model_dir), database_url=url, scan_chunk_size=8)


@pytest.fixture(scope="module")
def api_settings(tmp_path_factory: pytest.TempPathFactory, micro_model_dir: Path) -> Settings:
    settings = api_settings_for(tmp_path_factory.mktemp("api-home"), micro_model_dir,
                                scan_roots=[tmp_path_factory.mktemp("scan-root")])
    prepare_home(settings)
    return settings


@pytest.fixture(scope="module")
def api_app(api_settings: Settings) -> FastAPI:
    from provenance.api import create_app

    return create_app(api_settings)


@pytest.fixture(scope="module")
def api_client(api_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(api_app) as client:
        yield client


@pytest.fixture(scope="module")
def make_key(api_settings: Settings) -> Callable[..., dict[str, str]]:
    """make_key(scopes, rpm=..., tpm=...) -> Authorization headers for a fresh key."""
    from provenance.apikeys import create_api_key

    def make(scopes: str = ALL_SCOPES, *, rpm: int | None = 100_000, tpm: int | None = 1_000_000) -> dict[str, str]:
        key_id, key = create_api_key(api_settings.resolved_database_url, name="test", scopes=scopes,
                                     requests_per_minute=rpm, tokens_per_minute=tpm)
        return {"Authorization": f"Bearer {key}", "X-Key-Id": key_id}

    return make
