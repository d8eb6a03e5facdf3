"""The memorisation index of the configured scorer: built from its training corpus into the data home.

``detect.memorisation`` guards verdicts with an index of the text the scorer was trained on; this module is the
application side, which knows the home and the loaded model. A model the platform trained carries its own index
(its trainer wrote it); for any other local model with a known corpus (the shared 27M model and its README's
training-set rule) ``ensure_index`` builds ``<home>/models/memorisation/<weights sha256>.bloom`` and its card,
and reuses it while it verifies and was built from the same corpus. ``provenance model memorisation-index`` and
``make demo`` both call it, so the guard is on in the home a user gets.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detect.errors import DetectionError
from detect.memorisation import (
    INDEX_FILE,
    corpus_documents,
    home_index_path,
    index_path_for,
)
from detect.ngram_index import load_verified
from generator.ngram_index import build_index, save_with_card
from provenance.errors import ProvenanceError


@dataclass(frozen=True)
class IndexReport:
    """What ``ensure_index`` did: the index, its card, whether it was reused, and how long it took."""

    path: Path
    card: dict[str, Any]
    how: str  # built | reused | beside the model
    seconds: float


def corpus_fingerprint(corpus: Path) -> str:
    """SHA-256 over the corpus's ``*.txt`` names and contents, in sorted order (the files the rule reads)."""
    digest = hashlib.sha256()
    for path in sorted(Path(corpus).glob("*.txt")):
        digest.update(path.name.encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def ensure_index(home: Path, model_path: Path | None, weights_sha256: str | None, corpus: Path, *,
                 include_held_out: bool = False, rebuild: bool = False) -> IndexReport:
    """The scorer's verified index: the one beside a platform-trained model, else the home's when it verifies
    and records this corpus, else one built now from ``corpus``. An unverifiable home index is rebuilt (it is
    ours to replace, as is an unsigned one an older version wrote); an unverifiable index beside a model raises
    (the model's trainer owns it). What it builds is signed with the platform key (``artifact_signing``)."""
    started = time.perf_counter()
    if not weights_sha256:
        raise ProvenanceError("the scorer has no local weights file to pin its memorisation index to",
                              hint="pass --model DIR (a local checkpoint directory)")
    corpus = Path(corpus)
    if not corpus.is_dir():
        raise ProvenanceError(f"corpus directory {corpus} not found",
                              hint="pass --corpus DIR with the model's training .txt files")
    from provenance.artifact_signing import index_sealer, index_verifier

    verify = index_verifier(home)  # this installation's signature over the index and its card, checked first
    fingerprint = corpus_fingerprint(corpus)
    existing = index_path_for(model_path, weights_sha256, home)
    target = home_index_path(home, weights_sha256)
    if existing is not None and existing != target:  # a platform-trained model's own index
        _, card = load_verified(existing, verify=verify)
        return IndexReport(existing, card, f"beside the model ({INDEX_FILE})", time.perf_counter() - started)
    if existing is not None and not rebuild:
        try:
            _, card = load_verified(existing, weights_sha256, verify=verify)
        except DetectionError as exc:
            card = {"refused": str(exc)}
        wanted = {"fingerprint": fingerprint, "include_held_out": include_held_out}
        if {key: (card.get("corpus") or {}).get(key) for key in wanted} == wanted:
            return IndexReport(existing, card, "reused", time.perf_counter() - started)
    texts = [document for document, held_out in corpus_documents(corpus) if include_held_out or not held_out]
    if not texts:
        raise ProvenanceError(f"no documents under {corpus}", hint="the corpus directory needs .txt files")
    card = save_with_card(build_index(texts), target, seal=index_sealer(home), weights_sha256=weights_sha256,
                          documents=len(texts),
                          corpus={"path": str(corpus.resolve()), "fingerprint": fingerprint,
                                  "include_held_out": include_held_out,
                                  "rule": "documents rebuilt as ../shared/models/README.md describes"},
                          created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return IndexReport(target, card, "built", time.perf_counter() - started)


def guard_index_digest(home: Path, scorer: dict[str, Any]) -> str | None:
    """The SHA-256 its card records for the index that guards a bundle's scorer (``scorer``: the bundle card's
    scorer entry), or None without one. Part of the bundle version, so documents judged before the index
    existed (or with another index) are judged again rather than kept."""
    from detect.ngram_index import read_index_card

    location, weights = scorer.get("location"), scorer.get("weights_sha256")
    model_path = Path(location) if location and Path(location).is_dir() else None
    path = index_path_for(model_path, weights, home)
    card = read_index_card(path) if path is not None else None
    return None if card is None else card.get("index_sha256")
