"""What the API tests share: settings with small limits, a home with a strong watermark key, a generation call,
the audit rows an app wrote, and uvicorn on loopback in a thread."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from provenance.settings import Settings
from testkit.services import wait_for_port

ALL_SCOPES = "verify,generate,scan,admin"


def api_settings_for(home: Path, model_dir: Path, **overrides: Any) -> Settings:
    """Explicit settings (no environment), small limits so the 413 paths are cheap to reach."""
    values: dict[str, Any] = {"home": home, "model": str(model_dir), "hub_offline": True, "device": "cpu",
                              "api_max_batch": 4, "api_max_text_chars": 5000, "api_max_body_bytes": 64 * 1024}
    values.update(overrides)
    return Settings(**values)


def prepare_home(settings: Settings) -> None:
    """A strong watermark key for the micro model's tokenizer (created before the app loads its keys). selfhash
    explicitly: these tests were calibrated on its delta-6 micro-model text, and unigram at delta 6 drives the
    micro model's 56-token texts into byte salad that the ledger's word shingles cannot match (the default
    scheme is covered through the CLI tests and bench/watermark_attacks.py).

    The secret is fixed: with some keys that byte salad reaches even selfhash's texts, and an edited copy's
    near-duplicate match then depends on the key a test session happened to draw."""
    from unittest.mock import patch

    from provenance.keystore import KeyStore
    from provenance.runtime import load_configured_tokenizer

    tokenizer, _ = load_configured_tokenizer(settings)
    with patch("watermark.keys.new_secret", return_value=bytes(range(32))):
        KeyStore(settings.home).create(tokenizer, scheme="selfhash", delta=6.0)


def generate_text(client: TestClient, headers: dict[str, str], seed: int = 3, tokens: int = 56) -> dict[str, Any]:
    response = client.post("/v1/generate", headers=headers, json={
        "prompt": "The", "max_new_tokens": tokens, "min_new_tokens": tokens, "top_k": 0, "temperature": 1.3,
        "seed": seed})
    assert response.status_code == 200, response.text
    return response.json()


def audit_rows(app: FastAPI, action: str) -> list[Any]:
    from provenance.store.engine import session_scope
    from provenance.store.models import AuditLog

    services = app.state.services
    services.audit.flush()
    with session_scope(services.url) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


class ThreadedServer:
    """uvicorn.Server in a background thread; ``stop()`` runs the app's shutdown (audit queue drained)."""

    def __init__(self, app, port: int) -> None:  # noqa: ANN001
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base_url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        self.thread.start()
        wait_for_port(int(self.base_url.rsplit(":", 1)[1]))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
