"""Shared CLI output helpers: JSON lines on stdout, human messages and progress on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console, OverflowMethod
from rich.markup import escape
from rich.table import Table

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


def print_skipped(descriptions: Sequence[str], *, shown: int = 5) -> None:
    """The first ``shown`` input lines a trainer skipped, then a count of the rest: enough to find a bad file
    without flooding the terminal when a whole file is malformed."""
    for description in descriptions[:shown]:
        stderr.print(f"[yellow]skipped[/] {escape(description)}", highlight=False)
    if len(descriptions) > shown:
        stderr.print(f"[yellow]skipped[/] {len(descriptions) - shown} more bad lines")


def print_records(records: Sequence[dict[str, Any]], as_json: bool, *, title: str, columns: Sequence[str],
                  cells: Callable[[dict[str, Any]], Sequence[str]], overflow: OverflowMethod = "ellipsis") -> None:
    """A listing command's output: with ``--json`` one object per record on stdout (for scripts), else a Rich
    table titled ``title`` with one row of ``cells(record)`` per record under ``columns``."""
    if as_json:
        for record in records:
            emit_json(record)
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow=overflow)
    for record in records:
        table.add_row(*cells(record))
    stdout.print(table)
