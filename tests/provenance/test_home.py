"""The data home remembers its model (``<home>/home.toml``), and the signal layer's small pieces."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from provenance.errors import ProvenanceError
from provenance.settings import Settings, load_settings


def _first_key(home: Path, model_dir: Path) -> None:
    from provenance.keystore import KeyStore
    from provenance.runtime import load_configured_tokenizer

    settings = Settings(home=home, model=str(model_dir))
    tokenizer, _found = load_configured_tokenizer(settings)
    KeyStore(settings.home).active_or_create(tokenizer)


def test_first_key_records_the_model_and_later_commands_use_it(clean_env: Path, micro_model_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from generator.hashing import checkpoint_sha256
    from provenance.cli import main
    from provenance.home import read_home_model

    _first_key(clean_env, micro_model_dir)
    record = read_home_model(clean_env)
    assert record is not None and record.model == str(micro_model_dir.resolve())
    assert record.weights_sha256 == checkpoint_sha256(micro_model_dir)
    assert load_settings().model == record.model  # PROVENANCE_MODEL unset: the home's model

    copy = clean_env.parent / "same-weights"
    shutil.copytree(micro_model_dir, copy)
    monkeypatch.setenv("PROVENANCE_MODEL", str(copy))
    assert load_settings().model == str(copy)  # another path to the same weights is the same model

    monkeypatch.setenv("PROVENANCE_MODEL", "gpt2")
    with pytest.raises(ProvenanceError, match="home.toml"):
        load_settings()
    with pytest.raises(SystemExit) as exit_info:
        main(["config", "show", "--json"])
    assert exit_info.value.code == 2


def test_a_home_without_a_record_keeps_the_default_resolution(clean_env: Path) -> None:
    assert load_settings().model is None
    (clean_env).mkdir(parents=True, exist_ok=True)
    (clean_env / "home.toml").write_text("not toml at all\n")
    assert load_settings().model is None  # an unreadable record is ignored, never fatal


def test_evidence_offsets_move_onto_the_redacted_text() -> None:
    from provenance.signals.watermark import move_evidence

    # original "Mail bob@x.org now" -> redacted "Mail <EMAIL_ADDRESS> now"
    evidence = {"offsets": [0, 4, 4, 9, 9, 14, 14, 18], "green": "1011", "spans": [[0, 18, 1e-5]]}
    moved = move_evidence(evidence, [(5, 14, 5, 20)])
    assert moved["offsets"] == [0, 4, 20, 24] and moved["green"] == "11"
    assert moved["spans"] == [[0, 24, 1e-5]]


def test_every_signal_comes_from_the_factory_and_says_whether_it_can_score(tmp_path: Path) -> None:
    from provenance.signals import SIGNAL_NAMES, build_signal

    settings = Settings(home=tmp_path / "home")
    for name in SIGNAL_NAMES:
        signal = build_signal(name, settings)  # builds nothing heavy: models load on first score
        assert signal.name == name and all(hasattr(type(signal), member) for member in
                                           ("version", "availability", "score"))
        assert isinstance(signal.availability().available, bool)
    assert not build_signal("detection", settings).availability().available
    assert build_signal("detection", settings).score(["a text"])[0].verdict == "abstain"
    with pytest.raises(ValueError, match="unknown signal"):
        build_signal("astrology", settings)
