"""Keys reach a long-lived process without a restart: the watermark and provenance signals' stamps are their key
files, so the process's ``SignalSet`` rebuilds them when ``provenance keys rotate`` (or a sync from the store,
or a restored signing key) changes those files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from provenance.settings import Settings
from tests.cli_support import json_lines, run_cli
from tests.provenance.api_support import ALL_SCOPES, api_settings_for, generate_text, prepare_home


def test_a_rotated_watermark_key_is_used_by_the_next_verify(capsys, tmp_path: Path, micro_model_dir: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from provenance.api import create_app
    from provenance.apikeys import create_api_key

    # every use of a signal compares its stamp (the default compares every 32nd: the same path, less often)
    settings = api_settings_for(tmp_path / "home", micro_model_dir, api_signal_check_requests=1)
    prepare_home(settings)
    monkeypatch.setenv("PROVENANCE_HOME", str(settings.home))  # the CLI below reads its settings from here
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    monkeypatch.setenv("PROVENANCE_HUB_OFFLINE", "true")
    _key_id, key = create_api_key(settings.resolved_database_url, name="reload", scopes=ALL_SCOPES,
                                  requests_per_minute=100_000, tokens_per_minute=1_000_000)
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings)) as client:
        old_text = generate_text(client, headers, seed=3)["text"]
        before = client.post("/v1/verify", headers=headers, json={"text": old_text, "provenance": False}).json()
        assert before["watermark"]["watermarked"] and before["watermark"]["keys_tested"] == 1
        old_key = before["watermark"]["key_id"]

        code, out, err = run_cli(capsys, "keys", "rotate", "--json")
        assert code == 0, err
        (rotated,) = json_lines(out)
        assert rotated["key_id"] != old_key

        new_text = generate_text(client, headers, seed=3)["text"]  # generation reads the active key per call
        after = client.post("/v1/verify", headers=headers, json={"text": new_text, "provenance": False}).json()
        assert after["watermark"]["keys_tested"] == 2  # the same process, the next request: both keys
        assert after["watermark"]["watermarked"] and after["watermark"]["key_id"] == rotated["key_id"]
        old_again = client.post("/v1/verify", headers=headers, json={"text": old_text, "provenance": False}).json()
        assert old_again["watermark"]["watermarked"] and old_again["watermark"]["key_id"] == old_key


def test_a_new_signing_key_in_the_home_is_used_by_the_cached_provenance_signal(tmp_path: Path) -> None:
    from generator.stamping import build_manifest, sign_manifest
    from provenance.signals import signal_set
    from provenance.signing import PUBLIC_KEY_FILE, SIGNING_KEY_FILE, keys_dir, load_or_create_signing_key

    settings = Settings(home=tmp_path / "home", hub_offline=True)
    settings.ensure_home()
    first = load_or_create_signing_key(settings.home)
    signals = signal_set(settings)
    signal = signals.get("provenance")
    assert signals.get("provenance") is signal  # nothing changed: the cached signal

    manifest = build_manifest(text="An invented sentence for the key test.", prompt="p", model={"name": "t"},
                              decoding={}, watermark=None, requester="test")
    assert signal.verify(sign_manifest(dict(manifest), first))[0]
    for name in (SIGNING_KEY_FILE, PUBLIC_KEY_FILE):  # what installing the store's keys does: new files
        (keys_dir(settings.home) / name).unlink()
    second = load_or_create_signing_key(settings.home)

    rebuilt = signals.get("provenance")
    assert rebuilt is not signal
    assert rebuilt.verify(sign_manifest(dict(manifest), second))[0]
    assert not rebuilt.verify(sign_manifest(dict(manifest), first))[0]
