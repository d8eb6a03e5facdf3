"""`provenance config show`: the resolved settings, secrets masked."""

from __future__ import annotations

import typer
from rich.table import Table

from provenance.cli.output import emit_json, stdout
from provenance.settings import Settings
from provenance.settings import load_settings as _load

app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)


def load_settings() -> Settings:
    """Settings from env and TOML; invalid values become one clear CLI error (``provenance.settings``)."""
    return _load()


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Print the resolved settings (environment, TOML file, defaults) without secrets."""
    view = load_settings().public_view()
    if as_json:
        emit_json(view)
        return
    table = Table(title="provenance settings", show_header=True)
    table.add_column("setting")
    table.add_column("value")
    for key, value in view.items():
        table.add_row(key, "" if value is None else str(value))
    stdout.print(table)
