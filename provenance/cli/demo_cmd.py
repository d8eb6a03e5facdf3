"""`provenance demo`: the platform's main job on embedded defaults, end to end, for `make demo`.

Resolve the model (bootstrapping one from ``--corpus`` when none is reachable), generate a few
watermarked, signed samples, and show their timing, watermark detection and manifest verification; then
train the default detector bundle if there is none for this model (``--detect-data``: a stratified sample, its
cross-validated quality printed); finally scan a small dump through a real Celery worker: the demo's own
watermarked generations next to text the scorer and the bundle never saw (held-out corpus documents, held-out
labelled human and machine rows), and print the verdict counts per kind, so a newcomer sees what the
detector can and cannot do. The held-out labelled rows, whose labels are known, become a handful of review
decisions by the demo reviewer (their raw text kept), and the review loop's commands are printed (the demo
itself never retrains). Every phase is timed; a second run reuses the bundles and the score cache.
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
from provenance.cli.demo_heldout import Example, heldout_corpus_examples, heldout_labelled_examples
from provenance.cli.demo_memorisation import demo_memorisation
from provenance.cli.demo_reviews import print_review_loop, seed_decisions
from provenance.cli.demo_scan import demo_scan
from provenance.cli.demo_timing import PhaseTimer, process_age_s
from provenance.cli.model_cmd import run_bootstrap
from provenance.cli.output import stderr, stdout
from provenance.data_files import jsonl_files
from provenance.runtime import load_configured_model
from provenance.signals import signal_set
from provenance.signing import load_or_create_signing_key
from provenance.stamped_generation import generate_stamped
from provenance.store.ledger import record_generations

# The scan's held-out examples per kind: enough to see a pattern, few enough to score in seconds.
CORPUS_EXAMPLES = 8
LABELLED_EXAMPLES_PER_LABEL = 6
# The demo's detector bundle: a stratified sample of the labelled data with MIN_DOMAIN_HUMANS human texts in each
# of its three domains (news, Wikipedia questions, web pages with OpenAI's GPT-2 samples), so every per-domain
# false-positive check runs (issue 25; 400 texts left one domain one human short and the check was skipped).
DEMO_DETECT_TEXTS = 1000
# The demo's toxicity bundle: a stratified sample per source (its cross-validated quality is printed);
# `provenance detect train-toxicity` trains on everything.
DEMO_TOXICITY_PER_SOURCE = 1000

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
    detect_max_texts: int = typer.Option(DEMO_DETECT_TEXTS, "--detect-max-texts", min=40,
                                         help="Stratified sample size for the demo's bundle (speed on CPU; its "
                                              "cross-validated quality is printed). `provenance detect train` "
                                              "trains on more."),
    toxicity_data: list[Path] = typer.Option([], "--toxicity-data",
                                             help="Labelled toxicity JSONL files or directories: train the "
                                                  "toxicity bundle from them when none exists."),
) -> None:
    """Resolve or bootstrap the model, then generate and print samples with timing."""
    startup_s = process_age_s()
    timer = PhaseTimer()
    settings = load_settings()
    stderr.rule("[bold]GPT-2 Provenance demo")
    with timer.phase("model") as note:
        try:
            loaded = load_configured_model(settings)
        except ModelNotFoundError as exc:
            if corpus is None:
                raise
            stderr.print(f"[yellow]no model available[/] ({exc}); bootstrapping one from {corpus}")
            result = run_bootstrap(corpus, settings.bootstrap_model_dir, get_preset("tiny"),
                                   max_minutes=max_minutes, device=resolve_device(settings.device),
                                   home=settings.home)
            stderr.print(f"bootstrapped: held-out perplexity {result.card['heldout_perplexity']}")
            loaded = load_configured_model(settings)
            note["how"] = "bootstrapped"
    stderr.print(f"model: [bold]{loaded.name}[/] source={loaded.source} parameters={loaded.parameters:,} "
                 f"device={loaded.device} dtype={loaded.info()['dtype']}", highlight=False)
    with timer.phase("memorisation index") as note:
        note["how"] = demo_memorisation(settings, loaded, corpus)
    with timer.phase("toxicity bundle") as note:
        note["how"] = demo_toxicity(settings, toxicity_data)
    with timer.phase("held-out corpus documents"):
        split = "paragraphs" if loaded.source == "bootstrap" else "documents"  # each model's held-out rule
        corpus_examples = heldout_corpus_examples(corpus, CORPUS_EXAMPLES, seed, split)
    with timer.phase("generation (4 samples)"):
        demo_generation(settings, loaded, max_new_tokens, seed, corpus_examples)
    files = jsonl_files(detect_data)
    with timer.phase("detector bundle") as note:
        note["how"], training_hashes = demo_detection(settings, loaded, files, detect_max_texts, seed)
    with timer.phase("held-out labelled rows"):
        labelled = heldout_labelled_examples(files, training_hashes, LABELLED_EXAMPLES_PER_LABEL, seed) \
            if training_hashes is not None else []
    with timer.phase("scan (worker, generation)"):
        job_id = demo_scan(settings, loaded, corpus_examples + labelled, seed)
    from provenance.review.accounts import DEMO_PASSWORD_FILE, ensure_demo_reviewer
    from provenance.signing import keys_dir

    name, password = ensure_demo_reviewer(settings.resolved_database_url, settings.home)
    seeded = None
    if labelled:
        with timer.phase("review decisions (seeded)"):
            seeded = seed_decisions(settings, job_id, labelled, name)
    stdout.print(f"\nverdicts: provenance verdicts export --job {job_id} --format jsonl", highlight=False)
    stdout.print("review them in the dashboard: make dashboard  (or: provenance dashboard --host 127.0.0.1 "
                 "--port 8501, then open http://127.0.0.1:8501)", highlight=False)
    shown = password if password is not None else f"(see {keys_dir(settings.home) / DEMO_PASSWORD_FILE})"
    stdout.print(f"sign in as reviewer '{name}' with password {shown}  (your own account: provenance reviewer add "
                 "NAME)", highlight=False)
    if seeded is not None and seeded.total:
        print_review_loop(settings, seeded, name, detect_data, detect_max_texts, seed)
    timer.report(startup_s)


def demo_generation(settings, loaded, max_new_tokens: int, seed: int, controls: list[Example]) -> None:
    """Generate the demo's samples, show each with its watermark test and manifest check, ledger them, and
    test one held-out human text for the watermark as a control (it must not be detected)."""
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, seed=seed, top_k=50, temperature=0.9)
    started = time.perf_counter()
    stamped = generate_stamped(settings, loaded, DEMO_PROMPTS, sampling, requester="demo")
    elapsed = time.perf_counter() - started
    detector = signal_set(settings).get("watermark", tokenizer=loaded.tokenizer).require()
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
    if controls:
        control = detector.detect(controls[0].text, details=False)
        p_value = "-" if control.p_value is None else f"{control.p_value:.3g}"
        stdout.print(f"control ({controls[0].origin}, human-written): watermarked={control.watermarked} "
                     f"p={p_value}", highlight=False)
    record_generations(settings, [item.manifest for item in stamped], actor="demo")


def demo_toxicity(settings, toxicity_data: list[Path]) -> str:
    """Train the toxicity bundle once (generation screens its outputs with it; scans score every document).
    Returns how the phase went, for the timing table."""
    from provenance.signals import signal_set
    from provenance.toxicity import train_default_toxicity

    toxicity = signal_set(settings).get("toxicity")
    if toxicity.available:
        from provenance.artifact_signing import ArtifactSignatureError, verify_directory
        from provenance.toxicity import TOXICITY_KIND

        try:
            verify_directory(settings.home, toxicity.directory, TOXICITY_KIND)
            return "reused"
        except ArtifactSignatureError as exc:  # e.g. a bundle from before bundles were signed
            stderr.print(f"[yellow]not using the existing toxicity bundle[/]: {exc}", highlight=False)
    if not toxicity_data:
        stderr.print("[yellow]no toxicity bundle[/]: pass --toxicity-data DIR to train one; generation and scans "
                     "run without the toxicity screen")
        return "skipped (no data)"
    from detect.toxicity.bundle import read_toxicity_card

    stderr.rule("[bold]training the toxicity bundle")
    path = train_default_toxicity(settings, toxicity_data, console=stderr, max_per_source=DEMO_TOXICITY_PER_SOURCE)
    card = read_toxicity_card(path) or {}
    pooled = card.get("metrics", {}).get("cross_validated", {}).get("pooled", {})
    stdout.print(f"toxicity bundle saved to {path}: up to {DEMO_TOXICITY_PER_SOURCE:,} texts per source (a "
                 f"stratified sample); cross-validated AUROC {pooled.get('auroc', '-')}; a full bundle: "
                 "provenance detect train-toxicity DATA --out NAME", highlight=False)
    return "trained"


def demo_detection(settings, loaded, files: list[Path], max_texts: int,
                   seed: int) -> tuple[str, frozenset[str] | None]:
    """Train the default detector bundle if there is none for this model (from ``--detect-data``).

    Returns how the phase went and the bundle's training-text hashes (None when there is no bundle), so the
    demo's held-out labelled examples exclude what the bundle was trained on. The bundle is trained with the
    scorer the scan's worker will use (the service's own), so the two always agree.
    """
    from detect.bundle import load_bundle, read_card
    from detect.training import prepare
    from provenance.bundles import active_bundle_name, bundle_dir
    from provenance.cli.detect_cmd import token_progress
    from provenance.signals.detection import DetectionSignal

    name = active_bundle_name(settings)  # the bundle the scan's worker will use: the last one promoted, if any
    directory = bundle_dir(settings, name)
    card = read_card(directory)
    if card is not None and card.get("scorer", {}).get("weights_sha256") == loaded.weights_sha256:
        from provenance.artifact_signing import ArtifactSignatureError, verifier
        from provenance.bundles import DETECTOR_KIND

        try:
            hashes = load_bundle(directory, verify=verifier(settings.home, DETECTOR_KIND)).training_hashes
        except ArtifactSignatureError as exc:  # e.g. a bundle from before bundles were signed: train a new one
            stderr.print(f"[yellow]not using the existing bundle[/]: {exc}", highlight=False)
        else:
            _print_bundle_quality(name, card, directory, reused=True)
            return "reused", hashes
    if not files:
        stderr.print("[yellow]no detector bundle for this model[/]: pass --detect-data DIR (labelled JSONL) "
                     "to train one; the scan runs without machine-text verdicts")
        return "skipped (no data)", None
    stderr.rule("[bold]training the detector bundle")
    prepared = prepare(files, max_texts=max_texts, seed=seed)
    service = DetectionSignal.training_service(settings, lm=loaded)
    with token_progress() as progress:
        task = progress.add_task("scoring", total=None)
        bundle = service.train(name, prepared, seed=seed,
                               progress=lambda tokens: progress.advance(task, tokens),
                               stage=lambda message: progress.update(task, description=message[:60]))
    _print_bundle_quality(name, bundle.card, bundle.path, reused=False)
    return f"trained on {bundle.card['data']['texts_used']} texts", bundle.training_hashes


def _print_bundle_quality(name: str, card: dict, path: Path, *, reused: bool) -> None:
    """The bundle's cross-validated quality, on its own (small, stratified) training sample."""
    cv = card["metrics"]["cross_validated"]
    used = card.get("data", {}).get("texts_used")
    how = "reused" if reused else "trained"
    stdout.print(f"detector bundle '{name}' {how}: {used} labelled texts (a stratified sample); "
                 f"cross-validated ensemble AUROC {cv['ensemble']['auroc']} "
                 f"(Fast-DetectGPT alone {cv['fast_detectgpt']['auroc']}); {path}", highlight=False)
    if not reused:
        stdout.print("  a bigger sample trains a stronger bundle: "
                     "provenance detect train DATA --out NAME --max-texts N", highlight=False)
