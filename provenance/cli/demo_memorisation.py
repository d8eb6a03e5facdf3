"""The demo's memorisation-guard phase: the home a user gets has the guard on.

Without the scorer's training-text index, paragraphs the scorer was trained on look "machine" to a perplexity
detector (the shared 27M scorer called 77% of 300 of them machine). So the demo builds the index for the loaded
model from ``--corpus`` when it is missing (seconds; reused on a second run, see ``provenance.memorisation``), or
uses the one a platform-trained model carries, and says which. With no corpus and no index it says the guard
runs only on the model-free signal (long runs of near-certain tokens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detect.errors import DetectionError
from provenance.cli.output import stderr, stdout
from provenance.errors import ProvenanceError

MODEL_FREE_ONLY = ("memorisation guard: model-free signal only (no training-text index for {model}; "
                   "build one: provenance model memorisation-index --corpus DIR)")


def demo_memorisation(settings: Any, loaded: Any, corpus: Path | None) -> str:
    """Build or reuse the loaded model's index and print one line saying whether the guard is on.
    Returns how the phase went, for the timing table. Never stops the demo: a refused index is reported with
    its reason (the scan then reports the same refusal)."""
    from detect.memorisation import index_path_for
    from provenance.memorisation import ensure_index

    own = index_path_for(loaded.path, loaded.weights_sha256, settings.home)
    if loaded.source != "path" and own is None:
        corpus = None  # a hub model was not trained on the demo's corpus: an index of it would guard nothing
    if corpus is None and own is None:
        stdout.print(MODEL_FREE_ONLY.format(model=loaded.name), highlight=False)
        return "model-free signal only (no corpus)"
    try:
        if corpus is None:
            from detect.ngram_index import load_verified
            from provenance.artifact_signing import index_verifier

            _, card = load_verified(own, verify=index_verifier(settings.home))
            path, how = own, "found"
        else:
            report = ensure_index(settings.home, loaded.path, loaded.weights_sha256, corpus)
            path, card, how = report.path, report.card, report.how
    except (DetectionError, ProvenanceError) as exc:
        stderr.print(f"[yellow]memorisation guard: index not usable[/] ({exc}); {getattr(exc, 'hint', '')}",
                     highlight=False)
        return "refused"
    stdout.print(f"memorisation guard on: index {path} ({card.get('documents', 0):,} documents, "
                 f"{card.get('items', 0):,} word 8-grams; {how}; SHA-256 {str(card.get('index_sha256'))[:12]} "
                 "on its card, signature verified before each use)", highlight=False)
    return how
