"""`provenance reviews export`: reviewer decisions as labelled detection data (JSON lines)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import typer

from provenance.cli.config_cmd import load_settings
from provenance.cli.output import CliError, stderr

app = typer.Typer(help="Reviewer decisions as labelled detection data: export them.", no_args_is_help=True)
FORMATS = ("jsonl",)


def parse_since(value: str | None) -> datetime | None:
    """ISO date or date-time (UTC, as the store keeps it)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--since {value!r} is not a date", hint="use an ISO date like 2026-11-30 or "
                       "2026-11-30T08:00") from None
    if parsed.tzinfo is not None:
        from datetime import timezone

        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


@app.command("export")
def export(
    since: str | None = typer.Option(None, "--since", help="Only decisions made at or after this UTC date/time."),
    job_id: str | None = typer.Option(None, "--job", help="Only documents of this scan job."),
    format: str = typer.Option("jsonl", "--format", help="jsonl (the only format)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
) -> None:
    """Write {text, label, domain, source, decision_id, reviewer, bundle_version} per machine/human decision."""
    from provenance.review.labels import check_job, review_labels
    from provenance.store import ensure_schema, session_scope

    if format not in FORMATS:
        raise CliError(f"unknown format {format!r}", hint="use --format jsonl")
    if output is not None and (output.is_dir() or not output.parent.exists()):
        raise CliError(f"cannot write {output}", hint="give a file in an existing directory")
    moment = parse_since(since)
    settings = load_settings()
    ensure_schema(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as session:
        check_job(session, job_id)
        labels = review_labels(session, since=moment, job_id=job_id)
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in labels.records)
    if output is not None:
        output.write_text(lines, encoding="utf-8")
    else:
        sys.stdout.write(lines)
        sys.stdout.flush()
    summary = labels.summary()
    stderr.print(f"{summary['records']} labelled documents ({summary['machine']} machine, {summary['human']} human); "
                 f"{summary['redacted_only']} with redacted text only (not usable for retraining)", highlight=False)
    if labels.disagreements:
        stderr.print(f"[yellow]{len(labels.disagreements)} document(s) where reviewers disagree[/] (left out, "
                     "not resolved):", highlight=False)
        for item in labels.disagreements:
            who = ", ".join(f"{d['reviewer']}: {d['decision']}" for d in item["decisions"])
            stderr.print(f"  document {item['document_id']}: {who}", highlight=False)
