"""`provenance scan`, `worker`, `jobs list|show`, `verdicts export`, `db upgrade`: the pipeline's commands."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from provenance.cli.config_cmd import load_settings
from provenance.cli.output import CliError, emit_json, stderr, stdout
from provenance.settings import Settings

jobs_app = typer.Typer(help="Scan jobs: list them, show one.", no_args_is_help=True)
verdicts_app = typer.Typer(help="Stored verdicts: export them.", no_args_is_help=True)
db_app = typer.Typer(help="The platform's database: migrations.", no_args_is_help=True)
WAIT_POLL_SECONDS = 1.0


def _progress() -> Progress:
    rate = TextColumn("{task.fields[rate]}")
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), rate,
                    TimeElapsedColumn(), console=stderr, transient=False, disable=not stderr.is_terminal)


def _rate(task) -> str:
    """Records per second so far (Rich's own speed estimate needs a steady stream of small updates)."""
    elapsed = task.elapsed or 0.0
    return f"{task.completed / elapsed:,.0f}/s" if elapsed > 0.5 else ""


def _wait(settings: Settings, job_id: str, *, workers: int, quiet: bool) -> dict[str, Any]:
    """Block until the job is done; start local workers when the embedded broker has none."""
    from provenance.pipeline.celery_app import is_embedded
    from provenance.pipeline.jobs import job_summary
    from provenance.pipeline.recovery import recover_job
    from provenance.pipeline.submission import send_chunk
    from provenance.pipeline.workers import live_workers, start_local_worker, stop_local_worker

    local = None
    broker = settings.resolved_broker_url
    if job_summary(settings, job_id)["status"] in ("done", "failed"):
        return job_summary(settings, job_id, details=True)
    if live_workers(broker) == 0:
        if is_embedded(broker):
            if not quiet:
                stderr.print(f"no worker running: starting {workers} local worker process(es)")
            local = start_local_worker(workers, log_path=str(settings.home / "worker.log"))
        elif not quiet:
            stderr.print("[yellow]no live worker seen yet[/]: start one with provenance worker")
    try:
        with _progress() as progress:
            summary = job_summary(settings, job_id)
            task = progress.add_task("documents scored", total=max(summary["documents"], 1), rate="")
            while summary["status"] not in ("done", "failed"):
                if local is not None and local.poll() is not None:
                    raise CliError(f"the local worker exited with code {local.returncode}",
                                   hint=f"see {settings.home / 'worker.log'}")
                recover_job(settings, job_id, lambda chunk_id: send_chunk(settings, chunk_id))
                time.sleep(WAIT_POLL_SECONDS)
                summary = job_summary(settings, job_id)
                progress.update(task, total=max(summary["documents"], 1), completed=summary["scored"],
                                rate=_rate(progress.tasks[task]))
            progress.update(task, completed=summary["scored"])
    finally:
        if local is not None:
            stop_local_worker(local)
    return job_summary(settings, job_id, details=True)


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title=f"scan job {summary['job_id']}: {summary['status']}", show_header=False)
    for key in ("total", "scored", "quarantined", "duplicates", "already_scored", "new_verdicts"):
        table.add_row(key.replace("_", " "), f"{summary.get(key, 0):,}")
    for key, value in (summary.get("verdicts") or {}).items():
        table.add_row(key.replace("_", " "), f"{value:,}")
    if "seconds" in summary:
        table.add_row("seconds", f"{summary['seconds']:.1f}")
    stdout.print(table)
    if summary.get("already_scored") and not summary.get("new_verdicts") and summary["status"] == "done":
        stdout.print("every document already had a verdict from this detector bundle: nothing new was scored")


def scan(
    paths: list[str] = typer.Argument(None, help="JSONL, CSV, text, Parquet or WARC/WET files (gzip, zstd or bz2 "
                                      "compressed or not), or directories of them."),
    format: str = typer.Option("auto", "--format", help="auto | jsonl | csv | txt | parquet | warc (auto: by "
                               "content signature, then file extension; compression is always detected)."),
    text_field: str = typer.Option("text", "--text-field", help="JSON key, Parquet column or CSV column holding "
                                   "the text; dotted for nested fields (post.body)."),
    id_field: str = typer.Option("id", "--id-field", help="JSON key, Parquet column or CSV column holding the "
                                 "source id; dotted for nested fields."),
    wait: bool = typer.Option(False, "--wait", help="Block until every document is scored, then summarise."),
    workers: int = typer.Option(1, "--workers", min=1, help="Local worker processes --wait starts when the "
                                "embedded broker has no worker."),
    resume_job: str | None = typer.Option(None, "--resume", help="Continue an interrupted submission."),
    rescore: bool = typer.Option(False, "--rescore", help="With --resume JOB: judge the finished job again with the "
                                 "active detector bundle (the old verdicts are kept)."),
    as_json: bool = typer.Option(False, "--json", help="Print the job summary as one JSON object."),
    tenant: str = typer.Option("default", "--tenant", help="The tenant that owns the job and its verdicts "
                               "(one that has an API key, or default)."),
) -> None:
    """Scan text dumps: one stored verdict (or quarantine record with a reason) per input record."""
    from provenance.pipeline.jobs import job_summary
    from provenance.pipeline.submission import resume, submit_paths

    settings = load_settings()
    settings.ensure_home()
    if not paths and not resume_job:
        raise CliError("nothing to scan", hint="pass files or directories, or --resume JOB")
    if paths and resume_job:
        raise CliError("pass either paths or --resume JOB, not both", hint="--resume reads the job's own inputs")
    if rescore and not resume_job:
        raise CliError("--rescore needs --resume JOB", hint="provenance scan --resume JOB --rescore")
    started: list[str] = []
    with _progress() as progress:
        task = progress.add_task("records submitted", total=None, rate="")

        def advance(count: int) -> None:
            progress.advance(task, count)
            progress.update(task, rate=_rate(progress.tasks[task]))

        try:
            if resume_job and rescore:
                _rescore(settings, resume_job, quiet=as_json)
                job_id = resume_job
            elif resume_job:
                started.append(resume_job)
                resume(settings, resume_job, progress=advance)
                job_id = resume_job
            else:
                job_id = submit_paths(settings, paths, format=format, text_field=text_field, id_field=id_field,
                                      progress=advance, on_job=started.append, tenant=tenant)
        except KeyboardInterrupt:
            if started:
                raise CliError(f"submission of job {started[0]} interrupted",
                               hint=f"continue it with provenance scan --resume {started[0]}") from None
            raise
    summary = _wait(settings, job_id, workers=workers, quiet=as_json) if wait else job_summary(settings, job_id)
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)
        if not wait:
            stdout.print(f"submitted; follow it with provenance jobs show {job_id}")


def _rescore(settings: Settings, job_id: str, *, quiet: bool) -> None:
    from provenance.pipeline.rescore import rescore
    from provenance.pipeline.submission import send_chunk

    staged = rescore(settings, job_id)
    for chunk_id in staged["chunk_ids"]:
        send_chunk(settings, chunk_id)
    if not quiet:
        stderr.print(f"job {job_id}: {staged['to_score']:,} document(s) to judge with {staged['bundle_version']} "
                     f"({staged['already_judged']:,} already judged by it); the verdicts of "
                     f"{staged['previous_bundle_version']} are kept", highlight=False)


def worker(
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, help="Worker processes (default: "
                                           "PROVENANCE_WORKER_CONCURRENCY)."),
    loglevel: str = typer.Option("INFO", "--loglevel", help="Celery log level."),
    from_store: bool = typer.Option(False, "--from-store", help="Start from an empty data home: fetch bundles, "
                                    "index and keys from the database (PROVENANCE_SECRET_KEY decrypts the keys) "
                                    "and follow later publications once per chunk."),
) -> None:
    """Run a Celery worker in the foreground (SIGTERM or Ctrl-C: finish the task in hand, then exit)."""
    import os

    from provenance.store import ensure_schema

    if from_store:  # the pool processes read their settings from the environment
        os.environ["PROVENANCE_ARTIFACTS_FROM_STORE"] = "1"
        from provenance.settings import get_settings

        get_settings.cache_clear()
    settings = load_settings()
    settings.ensure_home()
    ensure_schema(settings.resolved_database_url)
    if settings.artifacts_from_store:
        from provenance.artifacts import sync

        sync(settings)  # fail here, with the reason, rather than in every task
    import socket

    from provenance.pipeline.celery_app import current_app

    app = current_app()
    # A node name of its own: Celery's default (celery@<host>) is the same for every worker on one machine, and
    # the heartbeat row is keyed by it, so two workers on one host would fight over one row.
    node = f"provenance-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(argv=["worker", f"--concurrency={concurrency or settings.worker_concurrency}",
                          "--pool=prefork", f"--loglevel={loglevel}", "--without-gossip", "--without-mingle",
                          "--without-heartbeat", f"--hostname={node}", "-Q", "provenance-scan"])


@jobs_app.command("list")
def jobs_list(limit: int = typer.Option(20, "--limit", min=1), as_json: bool = typer.Option(False, "--json")) -> None:
    """Recent scan jobs, newest first."""
    from provenance.pipeline.jobs import list_jobs
    from provenance.store import ensure_schema

    settings = load_settings()
    ensure_schema(settings.resolved_database_url)
    jobs = list_jobs(settings, limit)
    if as_json:
        for job in jobs:
            emit_json(job)
        return
    table = Table("job", "status", "total", "scored", "quarantined", "duplicates", "created")
    for job in jobs:
        table.add_row(job["job_id"], job["status"], *(f"{job[k]:,}" for k in ("total", "scored", "quarantined",
                                                                            "duplicates")), job["created_at"])
    stdout.print(table)


@jobs_app.command("show")
def jobs_show(job_id: str = typer.Argument(...), as_json: bool = typer.Option(False, "--json"),
              quarantine: bool = typer.Option(False, "--quarantine", help="Also list quarantined records.")) -> None:
    """One job's counts, verdict distribution and (with --quarantine) its quarantine records."""
    from provenance.pipeline.jobs import job_summary, quarantine_records
    from provenance.store import ensure_schema

    settings = load_settings()
    ensure_schema(settings.resolved_database_url)
    summary = job_summary(settings, job_id, details=True)
    if quarantine:
        summary["quarantine"] = quarantine_records(settings, job_id)
    if as_json:
        emit_json(summary)
        return
    _print_summary(summary)
    if not summary["submission_done"] and summary["status"] != "done":
        stdout.print(f"submission incomplete: continue with provenance scan --resume {job_id}")
    for item in summary.get("quarantine", []):
        stdout.print(f"  {item['location']}: {item['reason']}", highlight=False)


@verdicts_app.command("export")
def verdicts_export(
    job_id: str | None = typer.Option(None, "--job", help="Only this job's documents (input order)."),
    format: str = typer.Option("jsonl", "--format", help="jsonl | csv | parquet"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file (appears when complete) "
                                       "instead of stdout."),
) -> None:
    """Write verdicts, one document per record, streamed (constant memory for any number of verdicts)."""
    from provenance.pipeline.export import iter_verdicts
    from provenance.pipeline.export_writers import EXPORT_FORMATS, export
    from provenance.store import ensure_schema

    if format not in EXPORT_FORMATS:
        raise CliError(f"unknown format {format!r}", hint="use --format jsonl, csv or parquet")
    if format == "parquet" and output is None and sys.stdout.isatty():
        raise CliError("Parquet is binary: not written to a terminal", hint="add --output verdicts.parquet")
    if output is not None and output.is_dir():
        raise CliError(f"{output} is a directory", hint="give a file name, e.g. --output verdicts.parquet")
    if output is not None and not output.parent.exists():
        raise CliError(f"directory {output.parent} does not exist", hint="create it first or choose another path")
    settings = load_settings()
    ensure_schema(settings.resolved_database_url)
    count = export(iter_verdicts(settings, job_id), format, output, sys.stdout)
    if output is not None:
        stderr.print(f"{count:,} verdicts written to {output}", highlight=False)
    else:
        sys.stdout.flush()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Option("head", "--revision")) -> None:
    """Apply the Alembic migrations (creates the SQLite database in the data directory by default)."""
    from provenance.settings import mask_url_password
    from provenance.store.schema import upgrade

    settings = load_settings()
    settings.ensure_home()
    before, after = upgrade(settings.resolved_database_url, revision)
    where = mask_url_password(settings.resolved_database_url)
    stdout.print(f"database {where}: {before or 'empty'} -> {after}" if before != after
                 else f"database {where} is at {after} (nothing to do)", highlight=False)
