"""`provenance manifest verify`: check a manifest's Ed25519 signature, and that a text is the one it pins."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from generator.stamping import verify_manifest
from provenance.cli.config_cmd import load_settings
from provenance.cli.output import CliError, emit_json, stderr, stdout
from provenance.signing import load_or_create_signing_key, load_public_key

app = typer.Typer(help="Provenance manifests.", no_args_is_help=True)


def _read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"manifest {path} does not exist", hint="pass the manifest JSON file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CliError(f"{path} is not a JSON manifest ({exc.__class__.__name__})",
                       hint="pass the manifest object printed by provenance generate --json") from None
    if isinstance(manifest, dict) and isinstance(manifest.get("manifest"), dict):
        manifest = manifest["manifest"]  # a whole `generate --json` line is accepted too
    if not isinstance(manifest, dict):
        raise CliError(f"{path} does not hold a JSON object", hint="pass the manifest object")
    return manifest


@app.command("verify")
def verify(
    manifest_file: Path = typer.Argument(..., help="Manifest JSON (or a `generate --json` line)."),
    text_file: Path | None = typer.Option(None, "--text", help="Also check this text against text_sha256."),
    public_key: Path | None = typer.Option(None, "--public-key", help="PEM public key (default: this "
                                           "installation's signing key)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Exit 0 when the signature (and text, if given) check out, 1 otherwise."""
    manifest = _read_manifest(manifest_file)
    key = load_public_key(public_key) if public_key else load_or_create_signing_key(load_settings().home).public_key()
    text = None
    if text_file is not None:
        try:
            # Bytes decoded as they are: read_text would turn "\r\n" and "\r" into "\n" (universal newlines)
            # and a generation that contains a carriage return would no longer match its text_sha256.
            text = text_file.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read text {text_file}: {exc.__class__.__name__}",
                           hint="pass a UTF-8 text file") from None
    ok, reason = verify_manifest(manifest, key, text=text)
    if as_json:
        emit_json({"valid": ok, "reason": reason, "manifest_id": manifest.get("id")})
    elif ok:
        stdout.print(f"[green]valid[/]: {reason} (manifest {manifest.get('id')})")
    else:
        stderr.print(f"[red]invalid[/]: {reason}")
    raise typer.Exit(0 if ok else 1)
