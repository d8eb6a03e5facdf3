"""`provenance detect toxicity|train-toxicity` and `provenance eval-toxicity`.

Registered in ``provenance.cli`` (the first two on the ``detect`` group). Scoring streams JSON lines in and
out in input order; a bad line gets an ``error`` for that line only, never a crash of the whole run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import typer

from detect.toxicity import read_toxicity_data, save_toxicity_bundle, train_toxicity_bundle
from detect.toxicity.bundle import text_hash
from detect.toxicity.evaluation import (
    bias_check,
    cross_source_table,
    leave_one_source_out_table,
    per_source_metrics,
)
from detect.toxicity.training import fit_scorer, out_of_fold_scores
from provenance.batching import chunked
from provenance.cli.config_cmd import load_settings
from provenance.cli.inputs import open_input, read_text_records
from provenance.cli.output import emit_json, print_skipped, stderr, stdout
from provenance.signals import signal_set
from provenance.toxicity import benign_calibration_passages, toxicity_bundle_dir

CHUNK = 512


def _error_record(record_id: Any, reason: str) -> dict[str, Any]:
    return {"id": record_id, "p_toxic": None, "toxic": None, "categories": [], "blocked": None, "error": reason}


def score(
    source: str = typer.Argument(..., help='JSONL file of {"id"?, "text"} lines, or - for stdin.'),
    bundle: str | None = typer.Option(None, "--bundle", help="Toxicity bundle name or directory "
                                                             "(default: PROVENANCE_TOXICITY_BUNDLE)."),
    as_json: bool = typer.Option(True, "--json", help="JSON lines output (the default and only format)."),
) -> None:
    """Score each text: {"id", "p_toxic", "toxic", "categories", "blocked", "note"?, "block_reason"?} per line.

    ``toxic``: flagged for review (any category); ``blocked``: a category in PROVENANCE_TOXICITY_BLOCK_CATEGORIES
    (default hate, threat) reached its own threshold, so a generation with this text would be withheld;
    ``block_reason``: {"category", "score", "threshold"} of that category."""
    toxicity = signal_set(load_settings()).get("toxicity", bundle_name=bundle)
    toxicity.bundle  # noqa: B018 - fail early (no bundle) before reading input
    handle = open_input(source)
    try:
        for chunk in chunked(read_text_records(handle), CHUNK):
            good = [text for _, text, error in chunk if error is None]
            results = iter(toxicity.screen(good))  # type: ignore[arg-type]
            for record_id, _, error in chunk:
                if error is not None:
                    emit_json(_error_record(record_id, error))
                    continue
                result = next(results)
                record = {"id": record_id, "p_toxic": result["p_toxic"], "toxic": result["toxic"],
                          "categories": result["categories"], "blocked": result["blocked"]}
                if result["note"]:
                    record["note"] = result["note"]
                if result.get("block_reason"):
                    record["block_reason"] = result["block_reason"]
                if result.get("block_scores"):
                    record["block_scores"] = result["block_scores"]
                emit_json(record)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def train(
    data: list[Path] = typer.Argument(..., help="Labelled JSONL: {text, label: toxic|non_toxic, categories?, "
                                                "source?}."),
    out: str = typer.Option(..., "--out", help="Bundle name (saved under <home>/detectors) or directory."),
    target_fpr: float | None = typer.Option(None, "--target-fpr", min=0.001, max=0.5,
                                            help="False-positive rate the threshold promises (default: setting)."),
    block_fpr: float | None = typer.Option(None, "--block-fpr", min=0.0001, max=0.5,
                                           help="FPR on benign text the generation-blocking threshold promises "
                                                "(default: PROVENANCE_TOXICITY_BLOCK_FPR). Pass the generator's "
                                                "own outputs as a benign-only data file to include them."),
    max_per_source: int | None = typer.Option(None, "--max-per-source", min=50,
                                              help="Train on a stratified sample of this many texts per source."),
    folds: int = typer.Option(5, "--folds", min=2, max=10, help="Cross-validation folds for the card's metrics."),
    cross_source: bool = typer.Option(True, "--cross-source/--no-cross-source",
                                      help="Also train on each source alone and test on the others (card table)."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print the model card as JSON."),
) -> None:
    """Train the toxicity classifier (threshold at the target FPR) and save a bundle with a model card."""
    settings = load_settings()
    directory = toxicity_bundle_dir(settings, out)
    prepared = read_toxicity_data(data, max_per_source=max_per_source, seed=seed)
    benign = benign_calibration_passages(data)
    print_skipped(prepared.rejected)
    with stderr.status("training") as status:
        bundle = train_toxicity_bundle(prepared, name=directory.name, seed=seed, folds=folds,
                                       target_fpr=target_fpr or settings.toxicity_target_fpr,
                                       block_fpr=block_fpr or settings.toxicity_block_fpr,
                                       cross_source=cross_source, stage=lambda message: status.update(message),
                                       benign=benign)
    from provenance.artifact_signing import sealer
    from provenance.toxicity import TOXICITY_KIND

    save_toxicity_bundle(bundle, directory, seal=sealer(settings.home, TOXICITY_KIND))
    if as_json:
        emit_json(bundle.card)
    else:
        _print_trained(out, directory, bundle.card)


def _print_trained(out: str, directory: Path, card: dict[str, Any]) -> None:
    """Where the bundle went, its cross-validated quality at both thresholds, and the per-source tables that
    show whether it generalises beyond one source."""
    pooled = card["metrics"]["cross_validated"]["pooled"]
    stderr.print(f"saved toxicity bundle [bold]{out}[/] to {directory}")
    stderr.print(f"cross-validated AUROC {pooled.get('auroc')} TPR@5%FPR {pooled.get('tpr_at_5pct_fpr')} "
                 f"F1 {pooled.get('f1_at_threshold')}; threshold {card['threshold']['value']:.3f} "
                 f"(target FPR {card['threshold']['target_fpr']}); blocking threshold "
                 f"{card['block_threshold']['value']:.3f} (benign FPR {card['block_threshold']['target_fpr']})",
                 highlight=False)
    blocking = card.get("blocking") or {}
    if blocking:
        stderr.print(f"blocking thresholds {blocking.get('thresholds')} calibrated on benign genres "
                     f"{blocking.get('calibration_genres')}", highlight=False)
    for row in card["metrics"].get("leave_one_source_out", []):
        stderr.print(f"  leave-one-source-out: test {row['test']}: AUROC {row['auroc']}", highlight=False)
    for row in card["metrics"]["cross_source"]:
        stderr.print(f"  train {row['train']} -> test {row['test']}: AUROC {row['auroc']}", highlight=False)


def evaluate(
    data: list[Path] = typer.Argument(..., help="Labelled JSONL: {text, label: toxic|non_toxic, source?}."),
    bundle: str | None = typer.Option(None, "--bundle", help="Toxicity bundle name or directory."),
    retrain: bool = typer.Option(True, "--retrain/--no-retrain",
                                 help="Also cross-validate the bundle's recipe and build the cross-source table "
                                      "(retrains; slower)."),
    folds: int = typer.Option(5, "--folds", min=2, max=10),
    max_per_source: int | None = typer.Option(None, "--max-per-source", min=50,
                                              help="Evaluate a stratified sample per source."),
    include_training: bool = typer.Option(False, "--include-training",
                                          help="Score the bundle's own training texts too (inflated numbers)."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON report."),
) -> None:
    """AUROC, TPR at 5% FPR and F1 at the shipped threshold per source; leave-one-source-out, cross-source and
    bias tables."""
    toxicity = signal_set(load_settings()).get("toxicity", bundle_name=bundle)
    loaded = toxicity.bundle
    threshold = float(loaded.model.threshold)
    prepared = read_toxicity_data(data, max_per_source=max_per_source, seed=seed)
    texts, labels, sources = prepared.features_texts, prepared.labels, prepared.sources
    raw = [row.text for row in prepared.rows]
    seen = np.array([text_hash(text) in loaded.training_hashes for text in texts], dtype=bool)
    keep = np.arange(len(texts)) if include_training else np.flatnonzero(~seen)
    report: dict[str, Any] = {"bundle": loaded.card.get("name"), "version": loaded.version,
                              "threshold": threshold, "data": prepared.summary(),
                              "excluded_training_overlap": 0 if include_training else int(seen.sum())}
    with stderr.status("scoring") as status:
        if keep.size and len(np.unique(labels[keep])) == 2:
            scores = np.array([s["p_toxic"] for s in toxicity.screen([raw[i] for i in keep])])
            report["shipped"] = per_source_metrics(labels[keep], scores, sources[keep], threshold)
            report["shipped"]["bias"] = bias_check([raw[i] for i in keep], labels[keep], scores, threshold)
        else:
            report["shipped"] = {"skipped": "no unseen texts of both classes: every row was in the bundle's "
                                            "training data (pass --include-training, or see cross_validated)"}
        if retrain:
            stage = lambda message: status.update(message)  # noqa: E731
            oof = out_of_fold_scores(texts, labels, sources, folds=folds, seed=seed, stage=stage)
            report["cross_validated"] = per_source_metrics(labels, oof, sources, threshold)
            report["cross_validated"]["bias"] = bias_check(raw, labels, oof, threshold)
            report["cross_source"] = cross_source_table(texts, labels, sources, fit_scorer, stage)
            report["leave_one_source_out"] = leave_one_source_out_table(
                texts, labels, sources, [row.categories for row in prepared.rows], fit_scorer, stage)
    if as_json:
        emit_json(report)
        return
    stdout.print(f"toxicity bundle {report['version']} (threshold {threshold:.3f}) on {len(texts):,} texts")
    for section in ("shipped", "cross_validated"):
        for name, row in (report.get(section) or {}).items():
            if isinstance(row, dict) and "auroc" in row:
                stdout.print(f"  {section:15s} {name:32s} AUROC {row['auroc']} TPR@5%FPR {row['tpr_at_5pct_fpr']} "
                             f"F1 {row.get('f1_at_threshold')}", highlight=False)
    for row in report.get("leave_one_source_out", []):
        stdout.print(f"  leave-one-out   test {row['test']}: AUROC {row['auroc']}", highlight=False)
    for row in report.get("cross_source", []):
        stdout.print(f"  cross-source    {row['train']} -> {row['test']}: AUROC {row['auroc']}", highlight=False)
