"""`provenance reviewer add|list|disable|passwd`: the dashboard's accounts (Argon2id-hashed passwords).

Passwords are prompted for (twice) on a terminal, or read from the first line of standard input otherwise, so
they never appear in a shell history or a process listing.
"""

from __future__ import annotations

import getpass
import sys

import typer

from provenance.cli.config_cmd import load_settings
from provenance.cli.output import CliError, emit_json, print_records, stderr

reviewer_app = typer.Typer(help="Reviewer accounts for the dashboard (passwords stored as Argon2id hashes).",
                           no_args_is_help=True)


def _database_url() -> str:
    settings = load_settings()
    settings.ensure_home()
    return settings.resolved_database_url


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _read_password(name: str) -> str:
    """Prompt twice on a terminal; otherwise the first line of stdin (for scripts: echo ... | provenance ...)."""
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("repeat it: ") != first:
            raise CliError("the two passwords differ", hint="run the command again")
        return first
    line = sys.stdin.readline() if sys.stdin is not None else ""
    password = line.rstrip("\r\n")
    if not password:
        raise CliError("no password given on standard input",
                       hint="type it at the prompt on a terminal, or pipe it: printf '%s\\n' \"$PW\" | "
                            f"provenance reviewer add {name}")
    return password


@reviewer_app.command("add")
def add(
    name: str = typer.Argument(..., help="The account name shown in decisions and the audit log."),
    role: str = typer.Option("reviewer", "--role", help="reviewer | admin | platform-admin (sees every tenant)"),
    tenant: str = typer.Option("default", "--tenant", help="The tenant whose jobs and verdicts the account sees."),
    as_json: bool = typer.Option(False, "--json", help="Print the account as JSON."),
) -> None:
    """Create an account; the password is prompted for (or read from stdin)."""
    from provenance.review.accounts import add_reviewer

    url = _database_url()
    record = add_reviewer(url, name, _read_password(name), role=role, actor=_actor(), tenant=tenant)
    if as_json:
        emit_json(record)
    else:
        stderr.print(f"created reviewer {record['name']} ({record['role']}); sign in on the dashboard with it",
                     highlight=False)


@reviewer_app.command("list")
def list_accounts(as_json: bool = typer.Option(False, "--json", help="One JSON object per account.")) -> None:
    """Every account with its role and status (never a password hash)."""
    from provenance.review.accounts import list_reviewers

    print_records(list_reviewers(_database_url()), as_json, title="Reviewer accounts",
                  columns=("name", "role", "tenant", "status", "created_at", "password_changed_at"),
                  cells=lambda record: (record["name"], record["role"], record["tenant"], record["status"],
                                        record["created_at"] or "", record["password_changed_at"] or ""))


@reviewer_app.command("disable")
def disable(name: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """Disable an account: it can no longer sign in, and its open sessions end at their next action."""
    from provenance.review.accounts import disable_reviewer

    record = disable_reviewer(_database_url(), name, actor=_actor())
    if as_json:
        emit_json(record)
    else:
        stderr.print(f"reviewer {record['name']} is disabled", highlight=False)


@reviewer_app.command("passwd")
def passwd(name: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json")) -> None:
    """Set a new password (prompted, or from stdin); the account's open sessions end."""
    from provenance.review.accounts import set_password

    url = _database_url()
    record = set_password(url, name, _read_password(name), actor=_actor())
    if as_json:
        emit_json(record)
    else:
        stderr.print(f"password of reviewer {record['name']} changed", highlight=False)
