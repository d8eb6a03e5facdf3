"""`provenance serve` (the verification API under uvicorn) and `provenance apikey create|list|revoke`."""

from __future__ import annotations

import getpass
import os
import shutil
import tempfile

import typer

from provenance.cli.config_cmd import load_settings
from provenance.cli.output import CliError, emit_json, print_records, stderr, stdout

WORKER_HEALTHCHECK_SECONDS = 60

apikey_app = typer.Typer(help="Manage API keys for the verification API (keys are shown once, stored hashed).",
                         no_args_is_help=True)


def _database_url() -> str:
    from provenance.store.schema import ensure_schema

    settings = load_settings()
    settings.ensure_home()
    ensure_schema(settings.resolved_database_url)
    return settings.resolved_database_url


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", help="Worker processes (each loads the tokenizer and keys)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level: warning, info, debug."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log one line per request."),
) -> None:
    """Run the verification API (OpenAPI docs at /docs)."""
    if not 0 < port < 65536:
        raise CliError(f"--port must be between 1 and 65535, got {port}", hint="e.g. --port 8000")
    if workers < 1:
        raise CliError(f"--workers must be at least 1, got {workers}", hint="--workers 2 on a 2-core machine")
    if log_level not in ("critical", "error", "warning", "info", "debug", "trace"):
        raise CliError(f"unknown --log-level {log_level!r}", hint="warning, info or debug")
    _database_url()  # migrate once here, not racing in N workers, and fail early on bad settings
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="provenance-metrics-")
    import uvicorn

    stderr.print(f"serving on http://{host}:{port} (docs at /docs) with {workers} worker(s)", highlight=False)
    try:
        # A worker's start (torch import, tokenizer, keys) can hold the GIL for seconds on a busy machine, so
        # it would miss uvicorn's 5-second health pings and be killed and restarted forever: allow a minute.
        uvicorn.run("provenance.api:create_app", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, access_log=access_log, proxy_headers=False, server_header=False,
                    timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@apikey_app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who or what the key is for."),
    scopes: str = typer.Option("verify", "--scopes",
                               help="Comma-separated: verify, generate, scan, admin (its own tenant), "
                                    "platform-admin (also reads other tenants, audited)."),
    requests_per_minute: int | None = typer.Option(None, "--requests-per-minute", help="Default: server setting."),
    tokens_per_minute: int | None = typer.Option(None, "--tokens-per-minute", help="Generated tokens per minute."),
    tenant: str = typer.Option("default", "--tenant", help="The tenant whose data the key reads and writes "
                               "(a new name creates the tenant)."),
    as_json: bool = typer.Option(False, "--json", help='Print {"id", "key"}.'),
) -> None:
    """Create a key. It is printed once and only its SHA-256 is stored: copy it now."""
    from provenance.apikeys import create_api_key

    key_id, key = create_api_key(_database_url(), name=name, scopes=scopes, requests_per_minute=requests_per_minute,
                                 tokens_per_minute=tokens_per_minute, actor=f"cli:{getpass.getuser()}",
                                 tenant=tenant)
    if as_json:
        emit_json({"id": key_id, "key": key})
        return
    stdout.print(key, highlight=False, soft_wrap=True)
    stderr.print(f"created API key {key_id}; this is the only time the key is shown", highlight=False)


@apikey_app.command("list")
def list_keys(as_json: bool = typer.Option(False, "--json", help="One JSON object per key.")) -> None:
    """Every key with its scopes, limits and status (never the key itself)."""
    from provenance.apikeys import list_api_keys

    print_records(list_api_keys(_database_url()), as_json, title="API keys", overflow="fold",
                  columns=("id", "name", "scopes", "req/min", "tokens/min", "status", "created_at", "last_used_at"),
                  cells=lambda record: (record["id"], record["name"], ",".join(record["scopes"]),
                                        str(record["requests_per_minute"] or "default"),
                                        str(record["tokens_per_minute"] or "default"), record["status"],
                                        record["created_at"] or "", record["last_used_at"] or ""))


@apikey_app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key's id (from create or list)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Revoke a key; running servers stop accepting it within 5 seconds (their key cache lifetime)."""
    from provenance.apikeys import revoke_api_key

    record = revoke_api_key(_database_url(), key_id, actor=f"cli:{getpass.getuser()}")
    if as_json:
        emit_json(record)
    else:
        stderr.print(f"API key {record['id']} revoked", highlight=False)
