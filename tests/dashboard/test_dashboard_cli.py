"""`provenance dashboard`: the Streamlit command line it runs, and clear errors for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from provenance.cli import main
from provenance.cli.dashboard_cmd import APP_PATH, streamlit_command


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def test_streamlit_runs_headless_without_telemetry_on_the_app() -> None:
    command = streamlit_command("127.0.0.1", 8600)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == str(APP_PATH) and APP_PATH.is_file()
    pairs = dict(zip(command[5::2], command[6::2], strict=True))
    assert pairs["--server.headless"] == "true" and pairs["--browser.gatherUsageStats"] == "false"
    assert (pairs["--server.address"], pairs["--server.port"]) == ("127.0.0.1", "8600")


def test_bad_database_url_is_one_error_line(capsys, clean_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_DATABASE_URL", "nosuchdb://nowhere")
    code, _, err = run_cli(capsys, "dashboard", "--port", "8599")
    assert code == 2 and "error:" in err and "Traceback" not in err


def test_bad_port_is_refused(capsys, clean_env: Path) -> None:
    code, _, err = run_cli(capsys, "dashboard", "--port", "70000")
    assert code == 2 and "Traceback" not in err and "70000" in err
