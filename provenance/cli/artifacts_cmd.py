"""`provenance artifacts publish|sync|status`: the data home's bundles and keys through the database."""

from __future__ import annotations

import typer

from provenance.cli.config_cmd import load_settings
from provenance.cli.output import emit_json, stdout

app = typer.Typer(help="Publish the data home's bundles and keys to the database; fetch them on another host.",
                  no_args_is_help=True)


@app.command("publish")
def publish(kind: list[str] = typer.Option(None, "--kind", help="Only these kinds (repeatable): keys, "
                                           "detector-bundle, toxicity-bundle, memorisation-index."),
            as_json: bool = typer.Option(False, "--json", help="One JSON object per artifact.")) -> None:
    """Publish this home's active bundles, memorisation index and keys (encrypted) for every other host."""
    from provenance.artifacts import KINDS
    from provenance.artifacts import publish as publish_home

    published = publish_home(load_settings(), tuple(kind) if kind else KINDS, actor="cli")
    for record in published:
        if as_json:
            emit_json(record)
        else:
            stdout.print(f"{record['kind']}: {record['name']} {record['digest'][:12]} ({record['files']} files, "
                         f"{record['size']} bytes)", highlight=False)


@app.command("sync")
def sync(as_json: bool = typer.Option(False, "--json", help="One JSON object.")) -> None:
    """Fetch the active artifacts into this home (verified; skipped when already current)."""
    from provenance.artifacts import sync as sync_home

    outcome = sync_home(load_settings())
    if as_json:
        emit_json(outcome)
    else:
        for kind, what in outcome.items():
            stdout.print(f"{kind}: {what}", highlight=False)


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="One JSON object.")) -> None:
    """The store's active digest of each kind beside the one this home installed."""
    from provenance.artifacts import active_digests, installed

    settings = load_settings()
    record = {kind: {"store": digest, "home": installed(settings.home).get(kind)}
              for kind, digest in active_digests(settings).items()}
    if as_json:
        emit_json(record)
    else:
        for kind, pair in record.items():
            home = pair["home"]
            stdout.print(f"{kind}: store {pair['store'][:12]}, home {home[:12] if home else 'none'}", highlight=False)
