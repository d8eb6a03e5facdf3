"""`provenance model info|bootstrap|distill|adapt|memorisation-index`: which model the platform uses, training its
own, and the training-text index of a model it did not train."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from generator.bootstrap import BootstrapResult, Preset, TrainingProgress, get_preset, train_bootstrap_model
from generator.bootstrap.presets import PRESETS
from generator.devices import resolve_device
from generator.ngram_index import write_model_index
from provenance.cli.config_cmd import load_settings
from provenance.cli.memorisation_cmd import memorisation_index
from provenance.cli.output import CliError, emit_json, stderr, stdout
from provenance.runtime import configure_torch, load_configured_model

app = typer.Typer(help="Inspect, load and train models.", no_args_is_help=True)
app.command("memorisation-index")(memorisation_index)


@app.command("info")
def info(
    model: str | None = typer.Option(None, "--model", help="Name or path (default: PROVENANCE_MODEL, then the "
                                     "documented resolution order)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Resolve and load the model, then describe it (name, source, size, device, dtype)."""
    settings = load_settings()
    loaded = load_configured_model(settings, model)
    details = {**loaded.info(), "weights_sha256": loaded.weights_sha256, "resolution": loaded.attempts}
    if as_json:
        emit_json(details)
        return
    table = Table(title="model", show_header=False)
    for key, value in details.items():
        table.add_row(key, "; ".join(value) if isinstance(value, list) else str(value))
    stdout.print(table)


def _progress_reporter(progress: Progress, task_id: int):
    def report(update: TrainingProgress) -> None:
        loss = f"{update.loss:.3f}" if update.loss is not None else "-"
        speed = f"{update.tokens_per_second:,.0f}" if update.tokens_per_second else "-"
        progress.update(task_id, completed=update.fraction * 100, phase=update.phase, loss=loss, speed=speed,
                        step=update.step)
    return report


def signed_index_writer(home: Path) -> Callable[..., dict[str, Any]]:
    """The trainers' ``index_writer``: ``write_model_index`` with the index signed by this installation's key."""
    from functools import partial

    from provenance.artifact_signing import index_sealer

    return partial(write_model_index, seal=index_sealer(home))


def run_bootstrap(corpus: Path, output_dir: Path, preset: Preset, *, max_minutes: float | None,
                  max_steps: int | None = None, seed: int = 0, device: torch.device | None = None,
                  transient: bool = False, home: Path | None = None) -> BootstrapResult:
    """Train with a Rich progress bar (phase, loss, tokens/s) on stderr; ``home`` (default: the configured one)
    holds the key that signs the model's memorisation index."""
    home = home if home is not None else load_settings().home
    progress = _training_progress(transient=transient)
    with progress:
        task_id = progress.add_task("bootstrap", total=100, phase="starting", loss="-", speed="-", step=0)
        return train_bootstrap_model(corpus, output_dir, preset, max_minutes=max_minutes, max_steps=max_steps,
                                     seed=seed, device=device, on_progress=_progress_reporter(progress, task_id),
                                     index_writer=signed_index_writer(home))


@app.command("bootstrap")
def bootstrap(
    corpus: Path = typer.Option(..., "--corpus", help="Directory of UTF-8 .txt files to train on."),
    preset: str = typer.Option("tiny", "--preset", help="Model size: " + ", ".join(PRESETS) +
                               " (tiny fits 2 CPU cores; small is for a GPU)."),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Wall-clock budget for the whole "
                                             "command (default: the preset's, 15 for tiny)."),
    seed: int = typer.Option(0, "--seed", help="Seed for initialisation and data order."),
    out: Path | None = typer.Option(None, "--out", help="Output directory (default: <home>/models/bootstrap)."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps "
                                         "(for reproducible runs; the time budget still applies)."),
    as_json: bool = typer.Option(False, "--json", help="Print the model card as one JSON object."),
) -> None:
    """Train a GPT-2-architecture model from scratch on a text corpus (byte-level BPE + GPT2LMHeadModel)."""
    settings = load_settings()
    chosen = _preset_within_budget(preset, max_minutes, max_steps)
    configure_torch(settings)
    output_dir = (out or settings.bootstrap_model_dir).expanduser().resolve()
    device = resolve_device(settings.device)
    result = run_bootstrap(corpus, output_dir, chosen, max_minutes=max_minutes, max_steps=max_steps, seed=seed,
                           device=device, transient=as_json, home=settings.home)
    _print_card(result.output_dir, result.card, as_json, lambda card: (
        f"[green]saved[/] {result.output_dir}  parameters={card['parameters']:,}  "
        f"held-out perplexity={card['heldout_perplexity']}  "
        f"({card['heldout_bits_per_byte']} bits/byte)  wall={card['wall_seconds']}s"))


@app.command("distill")
def distill(
    teacher: str | None = typer.Option(None, "--teacher", help="Teacher model name or path (default: the "
                                       "configured model)."),
    corpus: Path = typer.Option(..., "--corpus", help="Directory of UTF-8 .txt files to distil on."),
    preset: str = typer.Option("tiny", "--preset", help="Student size: " + ", ".join(PRESETS) + "."),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Wall-clock budget (default: the "
                                             "preset's)."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps."),
    temperature: float = typer.Option(2.0, "--temperature", help="Softmax temperature of the soft targets."),
    alpha: float = typer.Option(0.5, "--alpha", help="Weight of the KL term (1 - alpha: the LM loss)."),
    seed: int = typer.Option(0, "--seed", help="Seed for initialisation and data order."),
    out: Path | None = typer.Option(None, "--out", help="Output directory (default: <home>/models/distilled)."),
    keep_layers: str | None = typer.Option(None, "--keep-layers", help="Start from these teacher blocks, e.g. "
                                           "0,2,5 (the teacher's width; minutes of CPU give a working model)."),
    learning_rate: float | None = typer.Option(None, "--learning-rate", help="Override the preset's (default "
                                               "with --keep-layers: a tenth of it)."),
    as_json: bool = typer.Option(False, "--json", help="Print the model card as one JSON object."),
) -> None:
    """Train a smaller GPT-2 student on a teacher's soft targets (a faster detection scorer)."""
    from generator.distill import distill_model

    settings = load_settings()
    chosen = _preset_within_budget(preset, max_minutes, max_steps)
    try:
        layers = [int(part) for part in keep_layers.split(",")] if keep_layers else None
    except ValueError:
        raise CliError(f"--keep-layers takes comma-separated block numbers, got {keep_layers!r}",
                       hint="for example --keep-layers 0,2,5") from None
    if learning_rate is not None and learning_rate <= 0:
        raise CliError(f"--learning-rate must be positive, got {learning_rate}", hint="for example 3e-4")
    teacher_lm = load_configured_model(settings.model_copy(update={"quantize": "none", "adapter": None}), teacher)
    output_dir = (out or settings.models_dir / "distilled").expanduser().resolve()
    progress = _training_progress(transient=as_json)
    with progress:
        task_id = progress.add_task("distill", total=100, phase="starting", loss="-", speed="-", step=0)
        result = distill_model(teacher_lm, corpus, output_dir, chosen, max_minutes=max_minutes,
                               max_steps=max_steps, temperature=temperature, alpha=alpha, seed=seed,
                               on_progress=_progress_reporter(progress, task_id), keep_layers=layers,
                               learning_rate=learning_rate, index_writer=signed_index_writer(settings.home))
    _print_card(result.output_dir, result.card, as_json, lambda card: (
        f"[green]saved[/] {result.output_dir}  parameters={card['parameters']:,}  held-out perplexity="
        f"{card['heldout_perplexity']} (teacher {card['teacher']['heldout_perplexity']})  "
        f"wall={card['wall_seconds']}s"))


@app.command("adapt")
def adapt(
    corpus: Path = typer.Option(..., "--corpus", help="Directory of UTF-8 .txt files of the target domain."),
    rank: int = typer.Option(8, "--rank", help="LoRA rank of each adapted projection."),
    max_minutes: float = typer.Option(10.0, "--max-minutes", help="Wall-clock budget for the whole command."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps."),
    learning_rate: float = typer.Option(1e-3, "--learning-rate", help="Peak learning rate of the adapters."),
    seed: int = typer.Option(0, "--seed", help="Seed for data order and adapter initialisation."),
    out: Path | None = typer.Option(None, "--out", help="Adapter directory (default: <home>/adapters/<corpus>)."),
    as_json: bool = typer.Option(False, "--json", help="Print the adapter card as one JSON object."),
) -> None:
    """Fine-tune the generator on a domain corpus with LoRA adapters; saves only the adapter."""
    from generator.lora import adapt_generator

    settings = load_settings()
    if rank <= 0:
        raise CliError(f"--rank must be positive, got {rank}", hint="for example --rank 8")
    if max_minutes <= 0:
        raise CliError(f"--max-minutes must be positive, got {max_minutes}", hint="for example --max-minutes 10")
    base = load_configured_model(settings.model_copy(update={"quantize": "none", "adapter": None}))
    output_dir = (out or settings.home / "adapters" / Path(corpus).resolve().name).expanduser().resolve()
    progress = _training_progress(transient=as_json)
    with progress:
        task_id = progress.add_task("adapt", total=100, phase="starting", loss="-", speed="-", step=0)

        def report(update) -> None:
            loss = f"{update.loss:.3f}" if update.loss is not None else "-"
            progress.update(task_id, completed=update.fraction * 100, phase=update.phase, loss=loss,
                            step=update.step)

        result = adapt_generator(base, corpus, output_dir, rank=rank, max_minutes=max_minutes, max_steps=max_steps,
                                 learning_rate=learning_rate, seed=seed, on_progress=report,
                                 index_writer=signed_index_writer(settings.home))
    _print_card(result.output_dir, result.card, as_json, lambda card: (
        f"[green]saved[/] adapter {result.output_dir}  domain perplexity "
        f"{card['domain_perplexity_before']} -> {card['domain_perplexity_after']}  "
        f"(use: PROVENANCE_ADAPTER={result.output_dir})"))


def _print_card(output_dir: Path, card: dict[str, Any], as_json: bool,
                summary: Callable[[dict[str, Any]], str]) -> None:
    """What a training command prints: with ``--json`` its card and where it was saved (stdout, for scripts),
    else the one-line ``summary`` of that card on stderr."""
    card = {**card, "output_dir": str(output_dir)}
    if as_json:
        emit_json(card)
    else:
        stderr.print(summary(card))


def _preset_within_budget(preset: str, max_minutes: float | None, max_steps: int | None) -> Preset:
    """Bootstrap and distillation take a preset name and the same optional budget: the preset, once the name is
    known and the budget positive (anything else is a usage error)."""
    chosen = get_preset(preset)
    if max_minutes is not None and max_minutes <= 0:
        raise CliError(f"--max-minutes must be positive, got {max_minutes}", hint="for example --max-minutes 15")
    if max_steps is not None and max_steps <= 0:
        raise CliError(f"--max-steps must be positive, got {max_steps}", hint="omit it to train for the budget")
    return chosen


def _training_progress(*, transient: bool) -> Progress:
    return Progress(TextColumn("[bold]{task.fields[phase]}"), BarColumn(), TaskProgressColumn(),
                    TextColumn("step {task.fields[step]}  loss {task.fields[loss]}  {task.fields[speed]} tok/s"),
                    TimeElapsedColumn(), console=stderr, transient=transient)
