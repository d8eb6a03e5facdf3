"""The command line as the tests drive it: in process (``run_cli``, output captured by pytest's ``capsys``) or as
the installed console script (``PROVENANCE_BIN``), and the checks every failure must pass."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from provenance.cli import main

PROVENANCE_BIN = Path(sys.executable).parent / "provenance"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def assert_clean_failure(code: int, err: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    assert "error:" in err
