"""`provenance model memorisation-index`: build the scorer's training-text index for the memorisation guard.

For a model the platform did not train (the shared 27M scorer, any local checkpoint with a known corpus); a model
the platform trained already carries its index. See ``provenance.memorisation`` and ``detect.memorisation``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from provenance.cli.config_cmd import load_settings
from provenance.cli.output import emit_json, stderr


def memorisation_index(
    corpus: Path = typer.Option(..., "--corpus", help="Directory of the model's training .txt files (documents "
                                "rebuilt as ../shared/models/README.md describes)."),
    model: str | None = typer.Option(None, "--model", help="The scorer (default: PROVENANCE_MODEL, then the "
                                     "documented resolution order)."),
    include_held_out: bool = typer.Option(False, "--include-held-out", help="Also index the documents held out "
                                          "from training (default: trained-on documents only)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Build even when a verified index of this corpus "
                                 "exists."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Build the memorisation index of a scorer's training corpus (turns the guard on for that scorer)."""
    from provenance.memorisation import ensure_index
    from provenance.runtime import load_configured_model

    settings = load_settings()
    if not corpus.is_dir():  # before loading the model: the common mistake costs no wait
        from provenance.errors import ProvenanceError

        raise ProvenanceError(f"corpus directory {corpus} not found",
                              hint="pass --corpus DIR with the model's training .txt files")
    loaded = load_configured_model(settings, model)
    report = ensure_index(settings.home, loaded.path, loaded.weights_sha256, corpus,
                          include_held_out=include_held_out, rebuild=rebuild)
    summary = {"index": str(report.path), "how": report.how, "documents": report.card.get("documents"),
               "ngrams": report.card.get("items"), "index_sha256": report.card.get("index_sha256"),
               "weights_sha256": loaded.weights_sha256, "seconds": round(report.seconds, 1)}
    if as_json:
        emit_json(summary)
        return
    stderr.print(f"memorisation index {report.how}: {report.path} ({summary['documents'] or 0:,} documents, "
                 f"{summary['ngrams'] or 0:,} 8-grams, {summary['seconds']}s); card {report.path.name}.json",
                 highlight=False)
