"""`provenance generate`: sample continuations of prompts from the configured GPT-2."""

from __future__ import annotations

import getpass
import json
import time
from pathlib import Path

import typer
from rich.panel import Panel
from rich.progress import Progress

from generator import SamplingConfig
from provenance.cli.config_cmd import load_settings
from provenance.cli.output import CliError, emit_json, stderr, stdout
from provenance.runtime import load_configured_model
from provenance.stamped_generation import StampedGeneration, generate_stamped
from provenance.store.ledger import record_generations


def read_prompts_file(path: Path) -> list[str]:
    """Prompts from JSONL lines ``{"prompt": ...}``; blank lines are skipped, bad lines are named."""
    if not path.is_file():
        raise CliError(f"prompts file {path} does not exist", hint="pass --prompts FILE.jsonl")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8") from None
    prompts: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CliError(f"{path}:{number}: not valid JSON ({exc.msg})",
                           hint='each line must look like {"prompt": "..."}') from None
        if not isinstance(record, dict) or not isinstance(record.get("prompt"), str):
            raise CliError(f"{path}:{number}: expected an object with a string \"prompt\"",
                           hint='each line must look like {"prompt": "..."}')
        prompts.append(record["prompt"])
    if not prompts:
        raise CliError(f"{path} contains no prompts", hint='add lines like {"prompt": "Once upon a time"}')
    return prompts


def generation_record(stamped: StampedGeneration, index: int, sample: int) -> dict[str, object]:
    """The JSON object printed per generated text (contract keys: prompt, text, tokens, manifest, watermark)."""
    generation = stamped.generation
    return {
        "prompt": generation.prompt,
        "text": generation.text,
        "tokens": generation.tokens,
        "index": index,
        "sample": sample,
        "finish_reason": generation.finish_reason,
        "watermark": stamped.watermark,
        "manifest": stamped.manifest,
        "toxicity": stamped.toxicity,  # null when no toxicity bundle exists or screening is off
        "withheld": stamped.withheld,  # true: toxic output, "text" is empty
    }


def _report_toxic(event: dict[str, object]) -> None:
    """Never silent: each withheld or regenerated toxic sample gets a stderr line with its score."""
    what = "withheld" if event.get("action") == "withheld" else "discarded and regenerated"
    stderr.print(f"[yellow]notice:[/] a generated text was {what}: p_toxic {event.get('p_toxic')} >= threshold "
                 f"{event.get('threshold')} (categories {event.get('categories')})", highlight=False)


def generate(
    prompt: str | None = typer.Option(None, "--prompt", help="One prompt."),
    prompts_file: Path | None = typer.Option(None, "--prompts", help='JSONL file, one {"prompt": ...} per line.'),
    n: int = typer.Option(1, "--n", help="Samples per prompt."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", help="Tokens to generate per sample."),
    min_new_tokens: int | None = typer.Option(None, "--min-new-tokens", help="Suppress end-of-text until this "
                                              "many tokens (fixed-length samples)."),
    temperature: float = typer.Option(1.0, "--temperature"),
    top_k: int = typer.Option(50, "--top-k", help="0 disables top-k."),
    top_p: float = typer.Option(1.0, "--top-p", help="1.0 disables nucleus sampling."),
    greedy: bool = typer.Option(False, "--greedy", help="Greedy decoding instead of sampling."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for reproducible sampling."),
    batch_size: int = typer.Option(16, "--batch-size", help="Prompts per forward batch."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Disable the KV cache (slower; for benchmarks)."),
    model: str | None = typer.Option(None, "--model", help="Model name or path (default: resolved)."),
    no_watermark: bool = typer.Option(False, "--no-watermark", help="Do not watermark (still stamped)."),
    requester: str | None = typer.Option(None, "--requester", help="Who asked (recorded in the manifest)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per generated text."),
) -> None:
    """Generate continuations for a prompt or a JSONL file of prompts."""
    if (prompt is None) == (prompts_file is None):
        raise CliError("give exactly one of --prompt TEXT or --prompts FILE.jsonl",
                       hint='provenance generate --prompt "Once upon a time" --json')
    if n <= 0:
        raise CliError(f"--n must be a positive integer, got {n}", hint="--n 1 generates one sample per prompt")
    prompts = [prompt] if prompt is not None else read_prompts_file(prompts_file)  # type: ignore[arg-type]
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, min_new_tokens=min_new_tokens, temperature=temperature,
                              top_k=top_k, top_p=top_p,
                              do_sample=not greedy, seed=seed, use_cache=not no_cache)
    sampling.validate()  # fail on bad flags before spending seconds loading the model
    settings = load_settings()
    loaded = load_configured_model(settings, model)
    jobs = [(index, sample) for index in range(len(prompts)) for sample in range(n)]
    toxic_events: list[dict] = []

    def on_withheld(event: dict) -> None:
        toxic_events.append(event)
        _report_toxic(event)

    started = time.perf_counter()
    with Progress(console=stderr, transient=True, disable=len(jobs) <= batch_size) as progress:
        task = progress.add_task("generating", total=len(jobs))
        stamped = generate_stamped(settings, loaded, [prompts[i] for i, _ in jobs], sampling,
                                   watermark=not no_watermark, requester=requester or f"cli:{getpass.getuser()}",
                                   batch_size=batch_size, on_batch_done=lambda done: progress.advance(task, done),
                                   on_withheld=on_withheld, notice=lambda message: stderr.print(
                                       f"[yellow]notice:[/] {message}", highlight=False))
    elapsed = time.perf_counter() - started
    record_generations(settings, [item.manifest for item in stamped], actor=requester or f"cli:{getpass.getuser()}",
                       toxicity_events=toxic_events)
    for (index, sample), item in zip(jobs, stamped, strict=True):
        record = generation_record(item, index, sample)
        generation = item.generation
        if as_json:
            emit_json(record)
        elif item.withheld:
            stdout.print(Panel("[red]output withheld: toxicity over threshold[/]", highlight=False,
                               title=f"prompt {index} sample {sample}"))
        else:
            stdout.print(Panel(f"[dim]{generation.prompt}[/]{generation.text}", highlight=False,
                               title=f"prompt {index} sample {sample}", subtitle=f"{generation.tokens} tokens"))
    total_tokens = sum(item.generation.tokens for item in stamped)
    mark = f"watermark {stamped[0].watermark['key_id']}" if stamped and stamped[0].watermark else "no watermark"
    stderr.print(f"{len(stamped)} texts, {total_tokens} tokens in {elapsed:.2f}s "
                 f"({total_tokens / max(elapsed, 1e-9):.1f} tok/s) with {loaded.name} ({loaded.source}) "
                 f"on {loaded.device}; {mark}; manifests signed and written to the ledger", highlight=False)
