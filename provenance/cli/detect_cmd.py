"""`provenance detect train|score`: train a detector bundle; judge texts (JSON lines in, JSON lines out)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from detect.training import prepare
from generator.errors import GeneratorError
from provenance.batching import chunked
from provenance.cli.config_cmd import load_settings
from provenance.cli.inputs import open_input, read_text_records
from provenance.cli.output import CliError, emit_json, print_skipped, stderr
from provenance.cli.watermark_cmd import build_detector
from provenance.data_files import jsonl_files
from provenance.detection import verdict_record
from provenance.errors import ProvenanceError
from provenance.signals import signal_set
from provenance.signals.detection import DetectionSignal
from provenance.watermark_records import detect_record

app = typer.Typer(help="Machine-text detection: train bundles, score texts.", no_args_is_help=True)

CHUNK = 256


def token_progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                    TextColumn("{task.completed:,.0f} tokens"), TimeElapsedColumn(), console=stderr,
                    transient=True)


@app.command("train")
def train(
    data: list[Path] = typer.Argument(..., help="Labelled JSONL files or directories of them: {text, label: "
                                      "human|machine, pair?, domain?, generator?}."),
    out: str = typer.Option(..., "--out", help="Bundle name (saved under <home>/detectors) or directory."),
    target_fpr: float | None = typer.Option(None, "--target-fpr", min=0.0001, max=0.5,
                                            help="False-positive rate the machine threshold promises."),
    max_texts: int | None = typer.Option(None, "--max-texts", min=20,
                                         help="Train on a stratified sample of this many texts (quick bundles)."),
    seed: int = typer.Option(0, "--seed"),
    sampled_from: str | None = typer.Option(None, "--sampled-from", help="Add pure and nucleus continuations of "
                                            "the human prefixes written by this model (not the scorer)."),
    sampled_per_setting: int = typer.Option(150, "--sampled-per-setting", min=1,
                                            help="Prefixes continued per sampling setting."),
    sampled_tokens: int = typer.Option(160, "--sampled-tokens", min=16, max=1024,
                                       help="New tokens per sampled continuation."),
    stacker: str | None = typer.Option(None, "--stacker", help="twosided-probe, twosided, twosided-extended, logit, "
                                       "probe, extended or trees; default: the one chosen on left-out splits."),
    as_json: bool = typer.Option(False, "--json", help="Print the model card as JSON."),
) -> None:
    """Train the classifier + calibrated ensemble with group cross-validation and save a bundle."""
    settings = load_settings()
    from detect.ensemble import STACKERS

    if stacker is not None and stacker not in STACKERS:
        raise CliError(f"unknown --stacker {stacker!r}", hint="use one of: " + ", ".join(STACKERS))
    prepared = prepare(jsonl_files(data, refuse_empty_dirs=True), max_texts=max_texts, seed=seed)
    print_skipped([f"{rejected.source}: {rejected.reason}" for rejected in prepared.rejected])
    service = DetectionSignal.training_service(settings)
    with token_progress() as progress:
        task = progress.add_task("scoring", total=None)
        bundle = service.train(
            out, prepared, target_fpr=target_fpr, seed=seed,
            progress=lambda tokens: progress.advance(task, tokens),
            stage=lambda message: progress.update(task, description=message[:60]),
            sampled_from=sampled_from, sampled_per_setting=sampled_per_setting, sampled_tokens=sampled_tokens,
            stacker=stacker,
        )
    if as_json:
        emit_json(bundle.card)
    else:
        _print_trained(out, bundle.path, bundle.card)


def _print_trained(out: str, path: Path | None, card: dict[str, Any]) -> None:
    """Where the bundle went and the two figures a reader checks first: the ensemble's cross-validated quality
    and the thresholds it will apply."""
    ensemble = card["metrics"]["cross_validated"]["ensemble"]
    stderr.print(f"saved bundle [bold]{out}[/] to {path}")
    stderr.print(f"cross-validated ensemble AUROC {ensemble.get('auroc')} TPR@1%FPR {ensemble.get('tpr_at_1pct_fpr')}"
                 f"; thresholds machine >= {card['thresholds']['machine']:.3f}, "
                 f"human <= {card['thresholds']['human']:.3f}")


def _watermark_detector(settings: Any, enabled: bool | None, model: str | None):
    if enabled is False:
        return None
    try:
        return build_detector(settings, model, None)
    except (ProvenanceError, GeneratorError):
        if enabled:
            raise
        return None  # no generator model or no keys for it: nothing to report beside the verdict


def _error_record(record_id: Any, reason: str) -> dict[str, Any]:
    return {"id": record_id, "p_machine": None, "verdict": "abstain", "detectors": {}, "reasons": [reason],
            "error": reason}


@app.command("score")
def score(
    source: str = typer.Argument(..., help='JSONL file of {"id"?, "text"} lines, or - for stdin.'),
    bundle: str | None = typer.Option(None, "--bundle", help="Bundle name or directory (default: setting)."),
    watermark: bool | None = typer.Option(None, "--watermark/--no-watermark",
                                          help="Report the watermark test beside the verdict (default: when keys "
                                               "exist for the model)."),
    as_json: bool = typer.Option(True, "--json", help="JSON lines output (the default and only format)."),
) -> None:
    """Judge each text: P(machine), verdict (machine/human/uncertain/abstain), per-detector scores."""
    settings = load_settings()
    detection = signal_set(settings).get("detection", bundle_name=bundle)
    detection.bundle  # noqa: B018 - fail early (missing or mismatched bundle) before reading input
    # The generator's keys; without PROVENANCE_MODEL, the scorer's model (the demo's generator) is the guess.
    wm_detector = _watermark_detector(settings, watermark, settings.model or detection.scorer_spec())
    handle = open_input(source)
    try:
        with token_progress() as progress:
            task = progress.add_task("scoring", total=None)
            for chunk in chunked(read_text_records(handle), CHUNK):
                good = [(rid, text) for rid, text, error in chunk if error is None]
                judged = detection.judge([text for _, text in good],
                                         progress=lambda tokens: progress.advance(task, tokens))
                by_id = iter(judged)
                for record_id, text, error in chunk:
                    if error is not None:
                        emit_json(_error_record(record_id, error))
                        continue
                    wm = detect_record(wm_detector, text, windowed=False) if wm_detector is not None else None
                    emit_json(verdict_record(record_id, next(by_id), wm))
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def _reviewed_rows(settings: Any, skip_redacted: bool) -> list:
    """Reviewed documents as labelled rows; refuses redacted-only ones unless told to leave them out."""
    from detect.review_data import check_reviewed, reviewed_rows
    from provenance.review.labels import review_labels
    from provenance.store import ensure_schema, session_scope

    ensure_schema(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as session:
        labels = review_labels(session)
    redacted = len(labels.records) - len(labels.trainable)
    if redacted and not skip_redacted:
        raise CliError(f"{redacted} reviewed document(s) have only their redacted text: the store did not keep the "
                       "raw text, and placeholders would teach the detector the wrong statistics",
                       hint="scan with PROVENANCE_STORE_RAW_TEXT=1 before reviewing, or pass --skip-redacted to "
                            "leave those documents out")
    if labels.disagreements:
        stderr.print(f"[yellow]{len(labels.disagreements)} document(s) where reviewers disagree are left out[/] "
                     "(see provenance reviews export)")
    rows = reviewed_rows(labels.trainable)
    check_reviewed(rows)
    return rows


def _print_comparison(card: dict[str, Any]) -> None:
    comparison = card["retrain"]["comparison"]
    reviewed = comparison["reviewed_held_back"]
    for side in ("active", "candidate"):
        row = reviewed[side]
        stderr.print(f"held-back reviewed items ({reviewed['n']}), {side}: AUROC {row.get('auroc', 'n/a')} "
                     f"{row.get('auroc_ci95', '')} uncertain share {row.get('uncertain_share', 'n/a')}",
                     highlight=False)
    lodo = comparison["base_leave_one_domain_out"]
    for domain, row in (lodo.get("candidate") or {}).items():
        before = (lodo.get("active") or {}).get(domain) or {}
        stderr.print(f"base domain {domain} left out: AUROC active {before.get('auroc', 'n/a')} "
                     f"{before.get('auroc_ci95', '')}, candidate {row.get('auroc', 'n/a')}", highlight=False)


@app.command("retrain")
def retrain(
    out: str = typer.Option(..., "--out", help="Name (or directory) of the new bundle; never the active one."),
    from_reviews: bool = typer.Option(False, "--from-reviews", help="Add the reviewers' machine/human decisions."),
    base: list[Path] = typer.Option(None, "--base", help="Base labelled JSONL files or directories of them, the "
                                    "flag repeated per path (default: the base files the active bundle's own "
                                    "retrain recorded)."),
    max_texts: int | None = typer.Option(None, "--max-texts", min=40,
                                         help="Use a stratified sample of this many base texts (the one `detect "
                                              "train --max-texts N --seed S` and the demo draw with the same N and "
                                              "--seed; their statistics are cached)."),
    skip_redacted: bool = typer.Option(False, "--skip-redacted", help="Leave out reviewed documents whose raw text "
                                       "was not kept (default: refuse)."),
    target_fpr: float | None = typer.Option(None, "--target-fpr", min=0.0001, max=0.5),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print the new bundle's card as JSON."),
) -> None:
    """Train a new bundle version on base data plus reviewed items and compare it with the active bundle."""
    from detect.bundle import load_bundle, save_bundle
    from detect.retrain import retrain_bundle
    from provenance.bundles import active_bundle_name, bundle_dir, bundle_version

    if not from_reviews:
        raise CliError("nothing to retrain from", hint="pass --from-reviews (reviewer decisions are the new labels)")
    settings = load_settings()
    active_name = active_bundle_name(settings)
    if bundle_dir(settings, out) == bundle_dir(settings, active_name):
        raise CliError(f"--out {out} is the active bundle", hint="choose a new name; promote it once it is better")
    if not (bundle_dir(settings, active_name) / "card.json").is_file():
        raise CliError(f"no active detector bundle ({active_name}) to compare with",
                       hint="train one first: provenance detect train DATA.jsonl --out default")
    rows = _reviewed_rows(settings, skip_redacted)
    from provenance.artifact_signing import sealer, verifier
    from provenance.bundles import DETECTOR_KIND

    active = load_bundle(bundle_dir(settings, active_name), verify=verifier(settings.home, DETECTOR_KIND))
    paths = jsonl_files([Path(p) for p in (base or (active.card.get("retrain") or {}).get("base_paths") or [])],
                        refuse_empty_dirs=True)
    if not paths:
        raise CliError("no base data", hint="pass --base DATA.jsonl or --base DIR (the labelled data the bundle was "
                                            "trained on)")
    prepared = prepare(paths, max_texts=max_texts, seed=seed)
    service = DetectionSignal.training_service(settings)
    active.check_scorer(service.identity)  # a bundle for another scorer cannot be compared (or retrained) here
    with token_progress() as progress:
        task = progress.add_task("scoring", total=None)
        bundle = retrain_bundle(out, service.scorer, prepared, rows, active,
                                active_version=bundle_version(settings, active_name),
                                base_paths=[str(p.resolve()) for p in paths], cache=service.cache,
                                target_fpr=target_fpr or settings.detect_target_fpr, seed=seed,
                                progress=lambda tokens: progress.advance(task, tokens),
                                stage=lambda message: progress.update(task, description=message[:60]))
    save_bundle(bundle, bundle_dir(settings, out), seal=sealer(settings.home, DETECTOR_KIND))
    if as_json:
        emit_json(bundle.card)
    _print_comparison(bundle.card)
    comparison = bundle.card["retrain"]["comparison"]
    if comparison["promotable"]:
        stderr.print(f"saved bundle [bold]{out}[/]: at least as good as {active_name}; make it active with "
                     f"provenance detect promote {out}")
    else:
        stderr.print(f"saved bundle [bold]{out}[/], [yellow]not promotable[/]: " + "; ".join(comparison["problems"]))


@app.command("import-bundle")
def import_bundle_command(
    source: Path = typer.Argument(..., help="A detector or toxicity bundle directory made by another installation."),
    name: str = typer.Option(..., "--name", help="The name it gets under <home>/detectors (never overwritten)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was imported as JSON."),
) -> None:
    """Import a bundle made elsewhere: checked against its card, copied, signed with this installation's key, and
    audited. Bundles are pickles (loading one runs code): import only bundles you trust."""
    import getpass

    from provenance.bundle_import import import_bundle

    settings = load_settings()
    record = import_bundle(settings, source, name, actor=f"cli:{getpass.getuser()}")
    if as_json:
        emit_json(record)
    stderr.print(f"imported {record['kind']} [bold]{name}[/] from {record['source']} ({len(record['files'])} files, "
                 "signed here, audited as detect.import_bundle)", highlight=False)


@app.command("promote")
def promote(
    name: str = typer.Argument(..., help="Bundle name to make active, or PREVIOUS to roll back."),
    as_json: bool = typer.Option(False, "--json", help="Print the promotion record as JSON."),
) -> None:
    """Make a retrained bundle active when its recorded comparison shows it is at least as good."""
    import getpass

    from provenance.bundles import pinned
    from provenance.promotion import promote as promote_bundle

    settings = load_settings()
    entry = promote_bundle(settings, name, actor=f"cli:{getpass.getuser()}")
    if as_json:
        emit_json(entry)
    stderr.print(f"active detector bundle: [bold]{entry['name']}[/] (was {entry['previous']}); new scans use it, "
                 "and provenance scan --resume JOB --rescore re-judges a job with it")
    if pinned(settings):
        stderr.print(f"[yellow]PROVENANCE_DETECTOR_BUNDLE={settings.detector_bundle} is set and still wins[/]: "
                     "unset it to follow promotions")
