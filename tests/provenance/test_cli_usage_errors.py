"""Click usage errors keep Click's message and exit code 2; only unexpected exceptions are "internal error".

Each case runs the real console entry point (``provenance.cli.main``) in-process. Recent Typer releases parse
with a vendored copy of Click whose exceptions are not ``click.ClickException``; these tests pin that both
families are shown as usage errors (usage line, "Try ... --help", "Error: ..."), never as a crash.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import pytest
import typer

import provenance.cli as cli
from tests.cli_support import run_cli


def assert_usage_error(code: int, err: str, command: str, message: str) -> None:
    assert code == 2, err
    assert f"Usage: provenance {command}" in err
    assert f"Try 'provenance {command} --help' for help." in err
    assert message in err
    assert "internal error" not in err and "Traceback" not in err and "report it" not in err


def test_unknown_option(capsys, clean_env: Path) -> None:
    code, _, err = run_cli(capsys, "apikey", "create", "--name", "x", "--owner", "t")
    assert_usage_error(code, err, "apikey create", "No such option: --owner")


def test_mistyped_option_suggests_the_real_one(capsys, clean_env: Path) -> None:
    code, _, err = run_cli(capsys, "apikey", "create", "--nam", "x")
    assert_usage_error(code, err, "apikey create", "No such option: --nam")
    error_line = next(line for line in err.splitlines() if line.startswith("Error:"))
    assert "--name" in error_line  # Click's "did you mean" / possible options


def test_unknown_command(capsys, clean_env: Path) -> None:
    code, _, err = run_cli(capsys, "apikeys", "list")
    assert code == 2 and "No such command 'apikeys'" in err and "internal error" not in err


def test_missing_argument(capsys, clean_env: Path) -> None:
    code, _, err = run_cli(capsys, "apikey", "revoke")
    assert_usage_error(code, err, "apikey revoke", "Missing argument")


def test_bad_type_and_out_of_range(capsys, clean_env: Path) -> None:
    code, _, err = run_cli(capsys, "scan", "--workers", "abc", "dump.jsonl")
    assert_usage_error(code, err, "scan", "Invalid value for '--workers'")
    code, _, err = run_cli(capsys, "scan", "--workers", "0", "dump.jsonl")
    assert_usage_error(code, err, "scan", "Invalid value for '--workers'")


class Colour(str, Enum):
    red = "red"
    green = "green"


def test_bad_choice(capsys, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No shipped command takes a Click choice today, so the handler is checked on a one-command app with one
    (the same ``main()``, the same Typer/Click parser)."""
    probe = typer.Typer(add_completion=False)

    @probe.command("paint")
    def paint(colour: Colour = typer.Option(Colour.red, "--colour")) -> None:
        """Paint."""

    @probe.command("other")
    def other() -> None:
        """A second command, so `paint` is a subcommand as in the real app."""

    monkeypatch.setattr(cli, "app", probe)
    code, _, err = run_cli(capsys, "paint", "--colour", "blue")
    assert_usage_error(code, err, "paint", "Invalid value for '--colour'")
    assert "red" in err and "green" in err


def test_application_errors_keep_error_and_hint(capsys, clean_env: Path) -> None:
    code, _, err = run_cli(capsys, "verdicts", "export", "--format", "xml")
    assert code == 2 and "error: unknown format 'xml'" in err and "hint:" in err


def test_unexpected_exception_is_still_an_internal_error(capsys, clean_env: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(as_json: bool = False) -> None:
        raise RuntimeError("boom")

    probe = typer.Typer(add_completion=False)
    probe.command("show")(broken)
    probe.command("other")(lambda: None)
    monkeypatch.setattr(cli, "app", probe)
    monkeypatch.delenv("PROVENANCE_DEBUG", raising=False)
    code, _, err = run_cli(capsys, "show")
    assert code == 1 and "internal error: RuntimeError: boom" in err and "PROVENANCE_DEBUG=1" in err
