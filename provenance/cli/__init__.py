"""The `provenance` command line (Typer + Rich).

Every user-facing error ends as one ``error:`` line and one ``hint:`` line on stderr with a non-zero exit
code; set ``PROVENANCE_DEBUG=1`` to see the traceback of an unexpected failure.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module

import click
import typer
from typer.core import TyperGroup

from provenance.cli.output import print_error

# name -> (module under provenance.cli, attribute, kind, short help). Each command's module (and whatever heavy
# library it needs: torch, transformers, scikit-learn, spaCy) is imported only when that command runs, so
# `provenance --help` and the light commands (config, jobs, verdicts, apikey, scan submission) start in well
# under a second. The short help here is what `--help` lists without importing anything; a test checks that it
# equals each command's own. Order: top-level commands first, then command groups (as listed by --help).
LAZY_COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "generate": ("generate_cmd", "generate", "command",
                 "Generate continuations for a prompt or a JSONL file of prompts."),
    "demo": ("demo_cmd", "demo", "command",
             "Resolve or bootstrap the model, then generate and print samples with timing."),
    "dashboard": ("dashboard_cmd", "dashboard", "command",
                  "Run the reviewer dashboard (review queue, jobs, stats, audit) until interrupted."),
    "eval": ("eval_cmd", "evaluate", "command",
             "AUROC, TPR at 1% FPR and FPR at the shipped threshold (95% bootstrap intervals) per detector."),
    "serve": ("api_cmd", "serve", "command", "Run the verification API (OpenAPI docs at /docs)."),
    "scan": ("scan_cmd", "scan", "command",
             "Scan text dumps: one stored verdict (or quarantine record with a reason) per input record."),
    "worker": ("scan_cmd", "worker", "command",
               "Run a Celery worker in the foreground (SIGTERM or Ctrl-C: finish the task in hand, then exit)."),
    "eval-toxicity": ("toxicity_cmd", "evaluate", "command",
                      "AUROC, TPR at 5% FPR and F1 at the shipped threshold per source; leave-one-source-out, "
                      "cross-source and bias tables."),
    "model": ("model_cmd", "app", "group", "Inspect, load and train models."),
    "config": ("config_cmd", "app", "group", "Inspect configuration."),
    "keys": ("keys_cmd", "app", "group", "Manage watermark keys and the signing key (secrets are never printed)."),
    "watermark": ("watermark_cmd", "app", "group", "Detect the platform's watermark in text."),
    "manifest": ("manifest_cmd", "app", "group", "Provenance manifests."),
    "pii": ("pii_cmd", "app", "group", "Find, redact and restore personal data (Presidio + spaCy)."),
    "detect": ("detect_cmd", "app", "group", "Machine-text detection: train bundles, score texts."),
    "apikey": ("api_cmd", "apikey_app", "group",
               "Manage API keys for the verification API (keys are shown once, stored hashed)."),
    "reviewer": ("reviewer_cmd", "reviewer_app", "group",
                 "Reviewer accounts for the dashboard (passwords stored as Argon2id hashes)."),
    "reviews": ("reviews_cmd", "app", "group", "Reviewer decisions as labelled detection data: export them."),
    "jobs": ("scan_cmd", "jobs_app", "group", "Scan jobs: list them, show one."),
    "verdicts": ("scan_cmd", "verdicts_app", "group", "Stored verdicts: export them."),
    "db": ("scan_cmd", "db_app", "group", "The platform's database: migrations."),
    "artifacts": ("artifacts_cmd", "app", "group",
                  "Publish the data home's bundles and keys to the database; fetch them on another host."),
}


def _detect_extras(detect_app: typer.Typer) -> None:
    """`detect toxicity` and `detect train-toxicity` live in toxicity_cmd but belong to the detect group."""
    if getattr(detect_app, "_toxicity_registered", False):
        return
    toxicity_cmd = import_module("provenance.cli.toxicity_cmd")
    detect_app.command("toxicity")(toxicity_cmd.score)
    detect_app.command("train-toxicity")(toxicity_cmd.train)
    detect_app._toxicity_registered = True  # type: ignore[attr-defined]


def load_command(name: str) -> click.Command:
    """Import one command's module and turn its Typer function or sub-app into a Click command."""
    module_name, attribute, kind, _help = LAZY_COMMANDS[name]
    target = getattr(import_module(f"provenance.cli.{module_name}"), attribute)
    wrapper = typer.Typer()
    wrapper.callback()(lambda: None)
    if kind == "group":
        if name == "detect":
            _detect_extras(target)
        wrapper.add_typer(target, name=name)
    else:
        wrapper.command(name)(target)
    command = typer.main.get_command(wrapper)
    assert isinstance(command, click.Group | TyperGroup)
    return command.commands[name]  # type: ignore[union-attr]


class LazyGroup(TyperGroup):
    """The root group: commands are imported on first use; help lists them from ``LAZY_COMMANDS``."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, *(name for name in LAZY_COMMANDS if name not in self.commands)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in LAZY_COMMANDS:
            return self.commands.get(cmd_name)
        if self._listing:  # the help page needs a name and a line, not the module
            return click.Command(cmd_name, help=LAZY_COMMANDS[cmd_name][3])
        self.commands[cmd_name] = load_command(cmd_name)
        return self.commands[cmd_name]

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="provenance",
    help="GPT-2 Provenance: generate stamped GPT-2 text; find machine-generated text and PII in dumps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


@app.callback()
def _root() -> None:
    """The root group has no options of its own (Typer needs a callback to build a group with no commands)."""


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
