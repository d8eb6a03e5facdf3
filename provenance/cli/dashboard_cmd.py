"""`provenance dashboard`: run the Streamlit reviewer dashboard on the configured store.

The command resolves settings here (so a bad value is one ``error:`` line, not a page error), upgrades the
schema, and runs ``streamlit run dashboard/app.py`` with the data directory and database URL passed through
the environment, replacing this process (exec). Streamlit starts headless with usage statistics off, so
nothing phones home.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import typer

from provenance.cli.config_cmd import load_settings
from provenance.cli.output import CliError, stderr

APP_PATH = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def streamlit_command(host: str, port: int) -> list[str]:
    """The exact command line: headless, no telemetry, no file watcher, no browser auto-open."""
    return [sys.executable, "-m", "streamlit", "run", str(APP_PATH),
            "--server.address", host, "--server.port", str(port), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--server.runOnSave", "false", "--global.developmentMode", "false",
            "--client.toolbarMode", "minimal", "--browser.serverAddress", host, "--browser.serverPort", str(port)]


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def dashboard(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 exposes it)."),
    port: int = typer.Option(8501, "--port", help="TCP port (1-65535)."),
) -> None:
    """Run the reviewer dashboard (review queue, jobs, stats, audit) until interrupted."""
    if not 1 <= port <= 65535:
        raise CliError(f"port {port} is out of range", hint="use a TCP port between 1 and 65535, e.g. --port 8501")
    settings = load_settings()
    from provenance.store.schema import ensure_schema

    ensure_schema(settings.resolved_database_url)
    if settings.artifacts_from_store:  # a dashboard host with an empty home: bundles and keys from the store
        from provenance.artifacts import sync

        sync(settings)
    if not APP_PATH.is_file():
        raise CliError(f"dashboard app not found at {APP_PATH}", hint="install from the source tree (pip install -e .)")
    env = dict(os.environ)
    env["PROVENANCE_HOME"] = str(Path(settings.home).resolve())
    env["PROVENANCE_DATABASE_URL"] = settings.resolved_database_url
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    env.setdefault("HF_HUB_OFFLINE", "1")  # the item view loads a tokenizer: never from the network here
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    from provenance.review.accounts import has_accounts

    if not has_accounts(settings.resolved_database_url):
        if not is_loopback(host):
            raise CliError(f"refusing to listen on {host} without reviewer accounts: anyone reaching it could "
                           "read the stored texts",
                           hint="create one with provenance reviewer add NAME, or use --host 127.0.0.1")
        stderr.print("no reviewer account yet: create one with provenance reviewer add NAME (the dashboard "
                     "asks for it at sign-in)", highlight=False)
    stderr.print(f"dashboard: http://{host}:{port}  (data directory {env['PROVENANCE_HOME']})")
    from provenance.review.accounts import DEMO_PASSWORD_FILE, DEMO_REVIEWER
    from provenance.signing import keys_dir

    demo_password = keys_dir(settings.home) / DEMO_PASSWORD_FILE
    if demo_password.is_file():
        stderr.print(f"demo account: sign in as {DEMO_REVIEWER} with the password in {demo_password}",
                     highlight=False)
    sys.stdout.flush()
    sys.stderr.flush()
    # Become the Streamlit server (exec, not a child): SIGTERM or Ctrl-C sent to this PID stops the server
    # itself, and no orphaned server outlives a supervisor that stops `provenance dashboard`.
    command = streamlit_command(host, port)
    os.execve(command[0], command, env)
