"""`provenance demo`: the platform's main job on embedded defaults, end to end, for `make demo`.

Resolve the model (bootstrapping one from ``--corpus`` when none is reachable), generate a few
watermarked, signed samples, and show their timing, watermark detection and manifest verification; then
train the default detector bundle if there is none for this model (``--detect-data``) and judge the samples
and a few held-out labelled texts with it; finally scan a small dump (corpus paragraphs mixed with fresh
watermarked generations) through a real Celery worker and print the job summary.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.panel import Panel

from generator import ModelNotFoundError, SamplingConfig
from generator.bootstrap import get_preset
from generator.devices import resolve_device
from generator.stamping import verify_manifest
from provenance.cli.config_cmd import load_settings
from provenance.cli.demo_scan import demo_scan
from provenance.cli.model_cmd import run_bootstrap
from provenance.cli.output import stderr, stdout
from provenance.runtime import load_configured_model
from provenance.signals import build_signal
from provenance.signing import load_or_create_signing_key
from provenance.stamped_generation import generate_stamped
from provenance.store.ledger import record_generations

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
    detect_data: list[Path] = typer.Option([], "--detect-data",
                                           help="Labelled JSONL files or directories: train a detector bundle "
                                                "from them when none exists."),
    detect_max_texts: int = typer.Option(1600, "--detect-max-texts", min=40,
                                         help="Stratified sample size for the demo's bundle (speed on CPU)."),
    toxicity_data: list[Path] = typer.Option([], "--toxicity-data",
                                             help="Labelled toxicity JSONL files or directories: train the "
                                                  "toxicity bundle from them when none exists."),
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
    demo_toxicity(settings, toxicity_data)
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, seed=seed, top_k=50, temperature=0.9)
    started = time.perf_counter()
    stamped = generate_stamped(settings, loaded, DEMO_PROMPTS, sampling, requester="demo")
    elapsed = time.perf_counter() - started
    detector = build_signal("watermark", settings, tokenizer=loaded.tokenizer).require()
    signing_key = load_or_create_signing_key(settings.home).public_key()
    for item in stamped:
        generation = item.generation
        found = detector.detect(generation.text, prompt=generation.prompt, details=False)
        signature_ok, _ = verify_manifest(item.manifest, signing_key, text=generation.text)
        verdict = "watermarked" if found.watermarked else ("abstained" if found.abstain else "not detected")
        p_value = f"{found.p_value:.2e}" if found.p_value is not None else "-"
        stdout.print(Panel(f"[dim]{generation.prompt}[/]{generation.text}", highlight=False,
                           subtitle=f"{generation.tokens} tokens"))
        stdout.print(f"  watermark: {verdict} (p={p_value}, {found.num_tokens_scored} tokens scored); "
                     f"manifest {item.manifest['id'][:12]}: signature {'valid' if signature_ok else 'INVALID'}",
                     highlight=False)
    tokens = sum(item.generation.tokens for item in stamped)
    stdout.print(f"{len(stamped)} samples, {tokens} tokens in {elapsed:.2f}s = {tokens / elapsed:.1f} tok/s "
                 f"(batch of {len(stamped)}, KV cache on, watermark key {stamped[0].watermark['key_id']})",
                 highlight=False)
    human = "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of " \
            "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light."
    control = detector.detect(human, details=False)
    stdout.print(f"control (Dickens, human-written): watermarked={control.watermarked} p={control.p_value:.3g}",
                 highlight=False)
    record_generations(settings, [item.manifest for item in stamped], actor="demo")
    texts = [item.generation.prompt + item.generation.text for item in stamped]
    demo_detection(settings, loaded, texts, detect_data, detect_max_texts, seed)
    job_id = demo_scan(settings, loaded, corpus, seed)
    stdout.print(f"\nverdicts: provenance verdicts export --job {job_id} --format jsonl", highlight=False)
    stdout.print("review them in the dashboard: make dashboard  (or: provenance dashboard --host 127.0.0.1 "
                 "--port 8501, then open http://127.0.0.1:8501)", highlight=False)


def demo_toxicity(settings, toxicity_data: list[Path]) -> None:
    """Train the toxicity bundle once (generation screens its outputs with it; scans score every document)."""
    from provenance.toxicity import ToxicityService, train_default_toxicity

    if ToxicityService(settings).available:
        return
    if not toxicity_data:
        stderr.print("[yellow]no toxicity bundle[/]: pass --toxicity-data DIR to train one; generation and scans "
                     "run without the toxicity screen")
        return
    stderr.rule("[bold]training the toxicity bundle")
    path = train_default_toxicity(settings, toxicity_data, console=stderr)
    stdout.print(f"toxicity bundle saved to {path}", highlight=False)


def _jsonl_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.jsonl")) if path.is_dir() else [path])
    return files


def demo_detection(settings, loaded, texts: list[str], detect_data: list[Path], max_texts: int, seed: int) -> None:
    """Train the default detector bundle if needed (from --detect-data), then judge the demo's texts."""
    from detect.bundle import read_card
    from detect.training import prepare
    from provenance.cli.detect_cmd import token_progress
    from provenance.detection import DetectionService, bundle_dir

    service = DetectionService(settings, lm=loaded)
    files = _jsonl_files(detect_data)
    card = read_card(bundle_dir(settings))
    if card is None or card.get("scorer", {}).get("weights_sha256") != loaded.weights_sha256:
        if not files:
            stderr.print("[yellow]no detector bundle for this model[/]: pass --detect-data DIR (labelled JSONL) "
                         "to train one; skipping machine-text detection")
            return
        stderr.rule("[bold]training the detector bundle")
        prepared = prepare(files, max_texts=max_texts, seed=seed)
        with token_progress() as progress:
            task = progress.add_task("scoring", total=None)
            bundle = service.train(settings.detector_bundle, prepared, seed=seed,
                                   progress=lambda tokens: progress.advance(task, tokens),
                                   stage=lambda message: progress.update(task, description=message[:60]))
        cv = bundle.card["metrics"]["cross_validated"]
        stdout.print(f"bundle '{settings.detector_bundle}' trained on {bundle.card['data']['texts_used']} texts: "
                     f"cross-validated ensemble AUROC {cv['ensemble']['auroc']} "
                     f"(Fast-DetectGPT alone {cv['fast_detectgpt']['auroc']}); saved to {bundle.path}",
                     highlight=False)
    labelled = [(f"sample {i + 1} (this demo's generator)", text) for i, text in enumerate(texts)]
    labelled += _held_out_examples(files, service, seed)
    verdicts = service.judge([text for _, text in labelled])
    for (label, _), verdict in zip(labelled, verdicts, strict=True):
        p = "-" if verdict.p_machine is None else f"{verdict.p_machine:.3f}"
        stdout.print(f"  detection, {label}: [bold]{verdict.verdict}[/] (P(machine)={p})", highlight=False)


def _held_out_examples(files: list[Path], service, seed: int, per_label: int = 3) -> list[tuple[str, str]]:
    """A few labelled texts the bundle was not trained on, to show verdicts next to the truth."""
    import random

    from detect.bundle import short_text_hash
    from detect.training import prepare

    if not files:
        return []
    rows = [row for row in prepare(files).rows if short_text_hash(row.text) not in service.bundle.training_hashes]
    random.Random(seed).shuffle(rows)
    picked = [row for row in rows if row.label == 0][:per_label] + [row for row in rows if row.label == 1][:per_label]
    return [(f"held-out {'machine (' + row.generator + ')' if row.label else 'human'} {row.domain} text",
             row.text) for row in picked]
