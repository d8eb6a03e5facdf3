"""`provenance eval`: measure the configured detector bundle (and hold-out generalisation) on labelled data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from detect.bundle import short_text_hash
from detect.evaluation import evaluate_items, holdout_table, roc_plot
from detect.training import prepare
from provenance.cli.config_cmd import load_settings
from provenance.cli.detect_cmd import token_progress
from provenance.cli.output import CliError, emit_json, stderr, stdout
from provenance.signals import signal_set


def evaluate(
    data: list[Path] = typer.Argument(..., help="Labelled JSONL files: {text, label: human|machine, domain?, "
                                                "generator?, pair?}."),
    bundle: str | None = typer.Option(None, "--bundle", help="Bundle name or directory (default: setting)."),
    plot: Path | None = typer.Option(None, "--plot", help="Write a ROC chart (PNG) here."),
    holdout: bool = typer.Option(True, "--holdout/--no-holdout",
                                 help="Also retrain per held-out domain and generator (leave-one-out tables)."),
    include_training: bool = typer.Option(False, "--include-training",
                                          help="Keep texts the bundle was trained on (excluded by default)."),
    max_texts: int | None = typer.Option(None, "--max-texts", min=20, help="Evaluate a stratified sample."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON report."),
) -> None:
    """AUROC, TPR at 1% FPR and FPR at the shipped threshold (95% bootstrap intervals) per detector."""
    settings = load_settings()
    detection = signal_set(settings).get("detection", bundle_name=bundle)
    loaded = detection.bundle
    prepared = prepare(data, max_texts=max_texts, seed=seed)
    with token_progress() as progress:
        task = progress.add_task("scoring", total=None)
        items = detection.statistics(prepared.rows, progress=lambda tokens: progress.advance(task, tokens))
        labels = prepared.labels
        seen = np.array([short_text_hash(item.text) in loaded.training_hashes for item in items])
        keep = np.flatnonzero(~seen) if not include_training else np.arange(len(items))
        if len(np.unique(labels[keep])) < 2:
            raise CliError(f"after removing {int(seen.sum())} texts the bundle was trained on, the data lacks "
                           "human or machine texts", hint="evaluate on other data, or pass --include-training")
        report: dict[str, Any] = {
            "bundle": loaded.card.get("name"),
            "scorer": loaded.scorer.get("name"),
            "data": {**prepared.summary(), "evaluated": int(len(keep)),
                     "excluded_training_overlap": 0 if include_training else int(seen.sum())},
            "thresholds": loaded.card.get("thresholds"),
        }
        kept_items = [items[i] for i in keep]
        metrics, curves = evaluate_items(loaded.ensemble, kept_items, labels[keep], seed=seed)
        report["detectors"] = metrics
        if holdout:
            stage = lambda message: progress.update(task, description=message[:60])  # noqa: E731
            groups, domains, generators = prepared.groups, prepared.domains, prepared.generators
            report["leave_one_domain_out"] = (
                holdout_table(items, labels, groups, domains, target_fpr=loaded.card["thresholds"]["target_fpr"],
                              stage=stage)
                if len(np.unique(domains)) > 1 else {"skipped": "data has a single domain"})
            report["leave_one_generator_out"] = (
                holdout_table(items, labels, groups, generators, stage=stage,
                              target_fpr=loaded.card["thresholds"]["target_fpr"])
                if len(np.unique(generators[labels == 1])) > 1 else {"skipped": "data has a single generator"})
    if plot is not None:
        roc_plot(plot, curves, curves["labels"], title=f"ROC: bundle {loaded.card.get('name')}")
        report["plot"] = str(plot)
    if as_json:
        emit_json(report)
        return
    stdout.print(f"bundle {report['bundle']} on {len(keep)} texts (scorer {report['scorer']})")
    for name, row in metrics.items():
        extra = f" FPR@threshold {row.get('fpr_at_threshold')}" if "fpr_at_threshold" in row else ""
        stdout.print(f"  {name:20s} AUROC {row.get('auroc')} {row.get('auroc_ci95')}  "
                     f"TPR@1%FPR {row.get('tpr_at_1pct_fpr')}{extra}")
    if plot is not None:
        stderr.print(f"ROC chart written to {plot}")
