from __future__ import annotations

from pathlib import Path

import pytest

from provenance.settings import Settings, mask_url_password


def test_defaults_put_everything_under_the_data_directory(clean_env: Path) -> None:
    settings = Settings()
    assert settings.home == clean_env.resolve()
    assert settings.bootstrap_model_dir == clean_env.resolve() / "models" / "bootstrap"
    assert settings.resolved_database_url == f"sqlite:///{clean_env.resolve() / 'provenance.sqlite'}"
    assert settings.resolved_broker_url == f"sqla+sqlite:///{clean_env.resolve() / 'broker.sqlite'}"
    assert settings.model is None and settings.device == "auto"


def test_home_defaults_to_dot_provenance_in_the_current_directory(clean_env: Path, monkeypatch) -> None:
    monkeypatch.delenv("PROVENANCE_HOME")
    assert Settings().home == (Path.cwd() / ".provenance").resolve()


def test_environment_overrides_toml_file(clean_env: Path, monkeypatch, tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('model = "from-toml"\ndevice = "cpu"\nhub_timeout = 1.5\n')
    monkeypatch.setenv("PROVENANCE_CONFIG", str(config))
    settings = Settings()
    assert (settings.model, settings.device, settings.hub_timeout) == ("from-toml", "cpu", 1.5)
    monkeypatch.setenv("PROVENANCE_MODEL", "from-env")
    assert Settings().model == "from-env"


def test_provenance_toml_in_the_working_directory_is_read(clean_env: Path) -> None:
    Path("provenance.toml").write_text('quantize = "int8"\n')
    assert Settings().quantize == "int8"


def test_public_view_masks_secrets_and_url_passwords(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_HF_TOKEN", "hf_supersecret")
    monkeypatch.setenv("PROVENANCE_DATABASE_URL", "postgresql://app:hunter2@db.local/prov")
    view = Settings().public_view()
    rendered = repr(view)
    assert "hf_supersecret" not in rendered and "hunter2" not in rendered
    assert view["hf_token"] == "********"
    assert view["database_url"] == "postgresql://app:***@db.local/prov"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:pw@localhost:6379/0", "redis://:***@localhost:6379/0"),
        ("sqlite:////tmp/x.sqlite", "sqlite:////tmp/x.sqlite"),
        ("redis://user@host/0", "redis://user@host/0"),
    ],
)
def test_mask_url_password(url: str, masked: str) -> None:
    assert mask_url_password(url) == masked


def test_hf_hub_offline_environment_switches_the_platform_offline(clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert Settings().offline
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert not Settings().offline
    monkeypatch.setenv("PROVENANCE_HUB_OFFLINE", "true")
    assert Settings().offline
