"""Shared CLI output helpers: JSON lines on stdout, human messages and progress on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from provenance.errors import ProvenanceError

stderr = Console(stderr=True)
stdout = Console()


CliError = ProvenanceError  # the CLI's own checks raise the application's user-facing error


def print_error(message: str, hint: str | None) -> None:
    stderr.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    if hint:
        stderr.print(f"[yellow]hint:[/] {hint}", highlight=False, soft_wrap=True)


def emit_json(obj: Any) -> None:
    """One JSON object per line on stdout (machine-readable; never mixed with Rich output)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
