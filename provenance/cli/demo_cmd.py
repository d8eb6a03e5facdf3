"""`provenance demo`: the platform's main job on embedded defaults, end to end, for `make demo`.

Today: resolve the model (bootstrapping one from ``--corpus`` when none is reachable), generate a few
samples and print them with timing. Later issues extend it with watermarking, scanning and storage.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.panel import Panel

from generator import ModelNotFoundError, SamplingConfig, generate
from generator.bootstrap import get_preset
from generator.devices import resolve_device
from provenance.cli.config_cmd import load_settings
from provenance.cli.model_cmd import run_bootstrap
from provenance.cli.output import stderr, stdout
from provenance.runtime import load_configured_model

DEMO_PROMPTS = [
    "The history of the city begins",
    "In the morning, the detective",
    "Scientists have long wondered why",
    "She opened the letter and",
]


def demo(
    corpus: Path | None = typer.Option(None, "--corpus", help="Corpus to bootstrap a model from if none resolves."),
    max_minutes: float = typer.Option(15.0, "--max-minutes", help="Budget for bootstrapping, if it is needed."),
    max_new_tokens: int = typer.Option(48, "--max-new-tokens"),
    seed: int = typer.Option(7, "--seed"),
) -> None:
    """Resolve or bootstrap the model, then generate and print samples with timing."""
    settings = load_settings()
    stderr.rule("[bold]GPT-2 Provenance demo")
    try:
        loaded = load_configured_model(settings)
    except ModelNotFoundError as exc:
        if corpus is None:
            raise
        stderr.print(f"[yellow]no model available[/] ({exc}); bootstrapping one from {corpus}")
        result = run_bootstrap(corpus, settings.bootstrap_model_dir, get_preset("tiny"), max_minutes=max_minutes,
                               device=resolve_device(settings.device))
        stderr.print(f"bootstrapped: held-out perplexity {result.card['heldout_perplexity']}")
        loaded = load_configured_model(settings)
    stderr.print(f"model: [bold]{loaded.name}[/] source={loaded.source} parameters={loaded.parameters:,} "
                 f"device={loaded.device} dtype={loaded.info()['dtype']}", highlight=False)
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, seed=seed, top_k=50, temperature=0.9)
    started = time.perf_counter()
    generations = generate(loaded, DEMO_PROMPTS, sampling)
    elapsed = time.perf_counter() - started
    for generation in generations:
        stdout.print(Panel(f"[dim]{generation.prompt}[/]{generation.text}", highlight=False,
                           subtitle=f"{generation.tokens} tokens"))
    tokens = sum(g.tokens for g in generations)
    stdout.print(f"{len(generations)} samples, {tokens} tokens in {elapsed:.2f}s = {tokens / elapsed:.1f} tok/s "
                 f"(batch of {len(generations)}, KV cache on)", highlight=False)
