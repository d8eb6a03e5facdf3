"""The `provenance` command line (Typer + Rich).

Every user-facing error ends as one ``error:`` line and one ``hint:`` line on stderr with a non-zero exit
code; set ``PROVENANCE_DEBUG=1`` to see the traceback of an unexpected failure.
"""

from __future__ import annotations

import os
import sys

import click
import typer

from provenance.cli import (
    api_cmd,
    config_cmd,
    dashboard_cmd,
    demo_cmd,
    detect_cmd,
    eval_cmd,
    generate_cmd,
    keys_cmd,
    manifest_cmd,
    model_cmd,
    pii_cmd,
    scan_cmd,
    toxicity_cmd,
    watermark_cmd,
)
from provenance.cli.output import print_error

app = typer.Typer(
    name="provenance",
    help="GPT-2 Provenance: generate stamped GPT-2 text; find machine-generated text and PII in dumps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(model_cmd.app, name="model")
app.add_typer(config_cmd.app, name="config")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(watermark_cmd.app, name="watermark")
app.add_typer(manifest_cmd.app, name="manifest")
app.add_typer(pii_cmd.app, name="pii")
app.add_typer(detect_cmd.app, name="detect")
app.command("generate")(generate_cmd.generate)
app.command("demo")(demo_cmd.demo)
app.command("dashboard")(dashboard_cmd.dashboard)
app.command("eval")(eval_cmd.evaluate)
app.command("serve")(api_cmd.serve)
app.add_typer(api_cmd.apikey_app, name="apikey")
app.command("scan")(scan_cmd.scan)
app.command("worker")(scan_cmd.worker)
app.add_typer(scan_cmd.jobs_app, name="jobs")
app.add_typer(scan_cmd.verdicts_app, name="verdicts")
app.add_typer(scan_cmd.db_app, name="db")
detect_cmd.app.command("toxicity")(toxicity_cmd.score)
detect_cmd.app.command("train-toxicity")(toxicity_cmd.train)
app.command("eval-toxicity")(toxicity_cmd.evaluate)

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1


def _user_error_types() -> tuple[type[BaseException], ...]:
    from detect.errors import DetectionError
    from detect.pii.errors import PIIError
    from generator.errors import GeneratorError
    from provenance.errors import ProvenanceError
    from watermark.errors import WatermarkError

    return (DetectionError, GeneratorError, PIIError, ProvenanceError, WatermarkError)


# Recent Typer releases parse with their own copy of Click, whose exceptions are not click's classes (they derive
# from typer.TyperException); older ones raise click's own. Both families are usage errors, never "internal".
CLICK_ERRORS: tuple[type[Exception], ...] = (click.ClickException, typer.TyperException)
EXIT_SIGNALS: tuple[type[BaseException], ...] = (click.exceptions.Exit, typer.Exit)
ABORT_SIGNALS: tuple[type[BaseException], ...] = (click.exceptions.Abort, typer.Abort)


def show_click_error(exc: Exception) -> int:
    """Print a Click/Typer error as Click does (usage line, "Try --help", "Error: ...", any "did you mean")
    and return its exit code (2 for every usage error: unknown option, missing argument, bad choice or type)."""
    show = getattr(exc, "show", None)
    if callable(show):
        show()
    else:  # a bare TyperException: message only
        print_error(getattr(exc, "format_message", exc.__str__)(), None)
    return int(getattr(exc, "exit_code", EXIT_USER_ERROR))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and turn exceptions into short messages.

    Order matters: Click's own signals and usage errors first (their message and exit code are the contract a
    shell user knows), then the application's user errors (``error:`` + ``hint:``, exit 2), and only what is
    left is an "internal error" (exit 1).
    """
    try:
        result = app(args=argv, prog_name="provenance", standalone_mode=False)
    except EXIT_SIGNALS as exc:
        sys.exit(exc.exit_code)
    except CLICK_ERRORS as exc:
        sys.exit(show_click_error(exc))
    except ABORT_SIGNALS:
        print_error("aborted", None)
        sys.exit(130)
    except KeyboardInterrupt:
        print_error("interrupted", None)
        sys.exit(130)
    except _user_error_types() as exc:
        print_error(str(exc), getattr(exc, "hint", None))
        sys.exit(EXIT_USER_ERROR)
    except Exception as exc:  # an unexpected failure: still one line unless debugging
        if os.environ.get("PROVENANCE_DEBUG"):
            raise
        print_error(f"internal error: {exc.__class__.__name__}: {exc}",
                    "re-run with PROVENANCE_DEBUG=1 for the traceback, and report it")
        sys.exit(EXIT_INTERNAL_ERROR)
    sys.exit(result if isinstance(result, int) else 0)
