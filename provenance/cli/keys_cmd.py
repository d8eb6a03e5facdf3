"""`provenance keys list|create|rotate|revoke|public`: watermark keys and the manifest signing key."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from provenance.cli.config_cmd import load_settings
from provenance.cli.output import emit_json, stderr, stdout
from provenance.keystore import KeyStore, StoredKey
from provenance.runtime import load_configured_tokenizer
from provenance.signing import load_or_create_signing_key, public_key_pem

app = typer.Typer(help="Manage watermark keys and the signing key (secrets are never printed).",
                  no_args_is_help=True)


def _show(keys: list[StoredKey], as_json: bool) -> None:
    if as_json:
        for stored in keys:
            emit_json(stored.public())
        return
    table = Table(title="watermark keys")
    for column in ("key_id", "status", "scheme", "gamma", "delta", "tokenizer", "created_at"):
        table.add_column(column, overflow="fold")
    for stored in keys:
        key = stored.key
        table.add_row(key.key_id, stored.status, key.scheme, str(key.gamma), str(key.delta),
                      key.tokenizer_fingerprint, stored.created_at)
    stdout.print(table)


@app.command("list")
def list_keys(as_json: bool = typer.Option(False, "--json", help="One JSON object per key.")) -> None:
    """All watermark keys with their status (active, verify, revoked)."""
    _show(KeyStore(load_settings().home).all(), as_json)


@app.command("create")
def create(
    scheme: str = typer.Option("unigram", "--scheme", help="unigram (default: survives edits and excerpts; its "
                               "fixed list can be estimated from many samples), lefthash, or selfhash (resists "
                               "that estimation, breaks under edits)."),
    gamma: float = typer.Option(0.25, "--gamma", help="Green-list fraction."),
    delta: float | None = typer.Option(None, "--delta", help="Logit bias added to green tokens (default: 3.0 for "
                                       "unigram, 2.0 otherwise)."),
    model: str | None = typer.Option(None, "--model", help="Model whose tokenizer the key is bound to."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Create a new active key for the model's tokenizer (the previous active key stays for verification)."""
    settings = load_settings()
    tokenizer, _ = load_configured_tokenizer(settings, model)
    _show([KeyStore(settings.home).create(tokenizer, scheme=scheme, gamma=gamma, delta=delta)], as_json)


@app.command("rotate")
def rotate(model: str | None = typer.Option(None, "--model"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Replace the active key with a new one of the same parameters; the old one is kept for verification."""
    settings = load_settings()
    tokenizer, _ = load_configured_tokenizer(settings, model)
    old, new = KeyStore(settings.home).rotate(tokenizer)
    if old is not None and not as_json:
        stderr.print(f"{old.key.key_id} now verify-only")
    _publish_if_shared(settings)
    _show([new], as_json)


def _publish_if_shared(settings) -> None:
    """Once the store serves the keys to other hosts, a rotation or revocation is published there too."""
    from provenance.artifacts import KEYS, publish, store_in_use

    if store_in_use(settings):
        publish(settings, (KEYS,), actor="cli")


@app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key_id to stop using and stop detecting.")) -> None:
    """Stop using a key entirely (text it watermarked is no longer recognised)."""
    settings = load_settings()
    stored = KeyStore(settings.home).set_status(key_id, "revoked")
    _publish_if_shared(settings)
    stderr.print(f"{stored.key.key_id} revoked")


@app.command("public")
def public() -> None:
    """Print the manifest-signing public key (PEM), for verifying manifests offline."""
    key = load_or_create_signing_key(load_settings().home)
    sys.stdout.write(public_key_pem(key.public_key()).decode())
