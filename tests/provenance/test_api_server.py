"""The API over real HTTP: uvicorn on 127.0.0.1 (in a thread, and `provenance serve` as a process), httpx
clients, the API-key CLI contract, and that queued audit rows survive a clean shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from provenance.settings import Settings
from testkit.services import free_port, stop_pid, wait_for_port
from tests.cli_support import run_cli
from tests.provenance.api_support import ThreadedServer, api_settings_for, audit_rows, prepare_home


@pytest.fixture(scope="module")
def server_settings(tmp_path_factory: pytest.TempPathFactory, micro_model_dir: Path) -> Settings:
    settings = api_settings_for(tmp_path_factory.mktemp("server-home"), micro_model_dir)
    prepare_home(settings)
    return settings


def _key(settings: Settings, scopes: str = "verify,generate", **limits: int) -> tuple[str, dict[str, str]]:
    from provenance.apikeys import create_api_key

    key_id, key = create_api_key(settings.resolved_database_url, name="http", scopes=scopes, **limits)
    return key_id, {"Authorization": f"Bearer {key}"}


@pytest.fixture
def threaded_server(server_settings: Settings) -> Iterator[ThreadedServer]:
    from provenance.api import create_app

    app = create_app(server_settings)
    server = ThreadedServer(app, free_port())
    server.app = app  # type: ignore[attr-defined]
    server.start()
    yield server
    server.stop()


def test_verify_and_generate_over_http(threaded_server: ThreadedServer, server_settings: Settings) -> None:
    _, headers = _key(server_settings, requests_per_minute=10_000)
    with httpx.Client(base_url=threaded_server.base_url, timeout=60) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        generated = client.post("/v1/generate", headers=headers, json={
            "prompt": "The", "max_new_tokens": 48, "min_new_tokens": 48, "top_k": 0, "temperature": 1.3, "seed": 2})
        assert generated.status_code == 200 and {"text", "manifest"} <= generated.json().keys()
        verified = client.post("/v1/verify", headers=headers, json={"text": generated.json()["text"]}).json()
        assert verified["watermark"]["watermarked"] is True
        assert verified["watermark"]["scheme"] == "selfhash" and verified["watermark"]["fpr"] is None
        assert verified["provenance"]["manifest_id"] == generated.json()["manifest"]["id"]
        at_rate = client.post("/v1/verify", headers=headers, json={"text": generated.json()["text"], "fpr": 1e-3})
        mark = at_rate.json()["watermark"]
        assert mark["fpr"] == 1e-3 and mark["watermarked"] is True and mark["too_short"] is False
        assert mark["num_tokens_scored"] >= mark["min_tokens_required"]
        short = client.post("/v1/verify", headers=headers, json={"text": "Too short", "fpr": 1e-3}).json()
        assert short["watermark"]["too_short"] is True and short["watermark"]["watermarked"] is False
        assert client.post("/v1/verify", headers=headers, json={"text": "x", "fpr": 0}).status_code == 422
        assert client.post("/v1/verify", json={"text": "x"}).status_code == 401
        assert client.get("/metrics").status_code == 200


def test_concurrent_clients_and_audit_rows_survive_shutdown(server_settings: Settings) -> None:
    from provenance.api import create_app

    key_id, headers = _key(server_settings, scopes="verify", requests_per_minute=10_000)
    app = create_app(server_settings)
    server = ThreadedServer(app, free_port())
    server.start()

    async def load() -> list[int]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
            calls = [client.post("/v1/verify", headers=headers, json={"text": f"text number {i} " * 5})
                     for i in range(60)]
            calls += [client.post("/v1/verify/batch", headers=headers,  # thread pool beside the inline path
                                  json={"texts": [f"batch {i} a " * 20, f"batch {i} b " * 20], "windowed": True})
                      for i in range(10)]
            return [response.status_code for response in await asyncio.gather(*calls)]

    try:
        statuses = asyncio.run(load())
    finally:
        server.stop()
    assert statuses == [200] * 70
    mine = [row for row in audit_rows(app, "verify") if row.actor == f"apikey:{key_id}"]
    assert len(mine) == 80  # every acknowledged verification has its row after a clean stop


def test_apikey_cli_contract(capsys, clean_env: Path) -> None:
    code, out, err = run_cli(capsys, "apikey", "create", "--name", "N", "--scopes", "verify,generate,scan",
                             "--tokens-per-minute", "500", "--requests-per-minute", "30", "--json")
    assert code == 0, err
    created = json.loads(out)
    assert set(created) == {"id", "key"} and created["key"].startswith("pvk_")
    code, out, _ = run_cli(capsys, "apikey", "list", "--json")
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(k["id"], k["scopes"], k["tokens_per_minute"], k["requests_per_minute"], k["status"]) for k in listed] == [
        (created["id"], ["verify", "generate", "scan"], 500, 30, "active")]
    assert created["key"] not in out and "key_hash" not in out
    code, _, err = run_cli(capsys, "apikey", "revoke", created["id"])
    assert code == 0 and "revoked" in err
    assert json.loads(run_cli(capsys, "apikey", "list", "--json")[1])["status"] == "revoked"
    code, _, err = run_cli(capsys, "apikey", "create", "--name", "x", "--scopes", "verify,root")
    assert code == 2 and "unknown scope 'root'" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "apikey", "revoke", "nope")
    assert code == 2 and "no API key" in err
    code, _, err = run_cli(capsys, "serve", "--port", "0")
    assert code == 2 and "--port" in err


@pytest.mark.slow
def test_provenance_serve_two_workers_share_one_limit(tmp_path: Path, micro_model_dir: Path) -> None:
    """`provenance serve --workers 2`: both processes draw on one database bucket."""
    settings = api_settings_for(tmp_path / "home", micro_model_dir)
    prepare_home(settings)
    _, headers = _key(settings, scopes="verify", requests_per_minute=20)
    port = free_port()
    env = {**os.environ, "PROVENANCE_HOME": str(settings.home), "PROVENANCE_MODEL": str(micro_model_dir)}
    process = subprocess.Popen([sys.executable, "-m", "provenance.cli", "serve", "--port", str(port), "--workers", "2",
                                "--no-access-log", "--log-level", "warning"], env=env)
    try:
        wait_for_port(port, timeout=120)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(100):  # readiness: both workers have loaded their detector
                if client.get("/readyz").status_code == 200:
                    break
            statuses = [client.post("/v1/verify", headers=headers, json={"text": "a b c d"},
                                    ).status_code for _ in range(40)]
            assert client.get("/docs").status_code == 200
        assert 20 <= statuses.count(200) <= 24 and set(statuses) == {200, 429}
    finally:
        stop_pid(process)
