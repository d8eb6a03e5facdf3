"""Detector bundles: the trained ensemble plus a model card, saved as one directory.

``<dir>/ensemble.joblib`` holds the fitted scikit-learn objects; ``<dir>/card.json`` says what they are:
the scorer model (name, weights hash, tokenizer fingerprint), features, training-data fingerprint,
cross-validated metrics and thresholds. A bundle only makes sense with the scorer it was trained on, so
``check_scorer`` refuses any other. Bundles are pickles: load only bundles you trained or trust.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib

from detect.bundle_card import CARD_FILE, read_card  # noqa: F401 (read_card: this module's public name too)
from detect.classifier import DENSE_FEATURES
from detect.ensemble import TrainedEnsemble
from detect.errors import BundleMismatchError, DetectionError
from generator.hashing import file_sha256

BUNDLE_FORMAT = 1
ENSEMBLE_FILE = "ensemble.joblib"
TRAINING_HASHES_FILE = "training-texts.sha256"


@dataclass(frozen=True)
class ScorerIdentity:
    """What a bundle's numbers depend on: the exact scorer weights and tokenizer."""

    name: str
    weights_sha256: str | None
    tokenizer_fingerprint: str
    statistics: str  # PerplexityScorer.identity
    location: str | None = None  # local path or hub name, so scoring can load the same scorer by default

    @classmethod
    def of(cls, scorer: Any) -> ScorerIdentity:
        from watermark.keys import tokenizer_fingerprint

        lm = scorer.lm
        return cls(name=lm.name, weights_sha256=lm.weights_sha256,
                   tokenizer_fingerprint=tokenizer_fingerprint(scorer.tokenizer), statistics=scorer.identity,
                   location=str(lm.path) if lm.path is not None else lm.name)


@dataclass
class Bundle:
    ensemble: TrainedEnsemble
    card: dict[str, Any]
    path: Path | None = None
    training_hashes: frozenset[str] = frozenset()  # sha256 prefixes of training texts (eval excludes them)

    @property
    def scorer(self) -> dict[str, Any]:
        return self.card["scorer"]

    def check_scorer(self, identity: ScorerIdentity) -> None:
        """Refuse to score with a scorer other than the one the bundle was trained with."""
        expected = self.scorer
        same_weights = expected.get("weights_sha256") == identity.weights_sha256 or (
            expected.get("weights_sha256") is None and expected.get("name") == identity.name)
        if not same_weights or expected.get("tokenizer_fingerprint") != identity.tokenizer_fingerprint:
            raise BundleMismatchError(
                f"detector bundle {self.card.get('name')!r} was trained for scorer {expected.get('name')} "
                f"(weights {str(expected.get('weights_sha256'))[:12]}), not for {identity.name} "
                f"(weights {str(identity.weights_sha256)[:12]})",
                hint="set PROVENANCE_SCORER_MODEL to the bundle's scorer, or train a bundle for this scorer with "
                     "provenance detect train DATA.jsonl --out NAME",
            )
        if expected.get("statistics") != identity.statistics:
            raise BundleMismatchError(
                f"detector bundle {self.card.get('name')!r} expects scorer settings {expected.get('statistics')}, "
                f"got {identity.statistics}",
                hint="use the same scorer settings (quantization, dtype, max tokens) as at training, or retrain",
            )


def build_card(name: str, identity: ScorerIdentity, ensemble: TrainedEnsemble, *, data: dict[str, Any],
               metrics: dict[str, Any], training: dict[str, Any]) -> dict[str, Any]:
    import sklearn

    return {
        "format": BUNDLE_FORMAT,
        "name": name,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scorer": asdict(identity),
        "features": {"dense": list(DENSE_FEATURES), "hashed_ngrams": ["char_wb 2-4", "word 1-2"],
                     "stack_inputs": list(ensemble.stack_inputs)},
        "thresholds": asdict(ensemble.thresholds),
        "domain_thresholds": {name: asdict(t) for name, t in (ensemble.domain_thresholds or {}).items()},
        "domain_router": None if ensemble.router is None else {
            "domains": list(ensemble.router.domains), "confidence": ensemble.router.confidence},
        "abstain": asdict(ensemble.abstain),
        "probability": "P(machine) calibrated by cross-validated sigmoid scaling, equal prior odds",
        "data": data,
        "metrics": metrics,
        "training": training,
        "versions": {"scikit-learn": sklearn.__version__},
    }


def write_directory_atomically(directory: Path, write: Callable[[Path], None]) -> Path:
    """Let ``write`` fill a staging directory beside ``directory``, then swap it in with one rename: a
    half-written bundle is never picked up by scoring, and a failed write leaves the old one in place."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        write(staging)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def save_bundle(bundle: Bundle, directory: Path, *, seal: Callable[[Path], None] | None = None) -> Path:
    """``seal`` (the application's signer) runs on the complete staging directory before it is swapped in, so
    a bundle is never visible unsealed."""
    def write(staging: Path) -> None:
        joblib.dump(bundle.ensemble, staging / ENSEMBLE_FILE, compress=3)
        bundle.card["ensemble_sha256"] = file_sha256(staging / ENSEMBLE_FILE)
        (staging / CARD_FILE).write_text(json.dumps(bundle.card, indent=2, default=str) + "\n", encoding="utf-8")
        (staging / TRAINING_HASHES_FILE).write_text("".join(f"{h}\n" for h in sorted(bundle.training_hashes)))
        if seal is not None:
            seal(staging)

    bundle.path = write_directory_atomically(directory, write)
    return directory


def verify_file_hash(path: Path, expected: str | None, field: str) -> None:
    """Refuse to unpickle a model file whose SHA-256 differs from its card's: unpickling runs code, so a file
    swapped or altered after training must never be loaded."""
    if not expected:
        raise DetectionError(f"the card beside {path} records no {field}, so {path.name} cannot be checked "
                             "before unpickling", hint="retrain the bundle with this version of the platform")
    actual = file_sha256(path)
    if actual != expected:
        raise DetectionError(f"{path} does not match its card: SHA-256 {actual[:16]}... but the card records "
                             f"{field} {expected[:16]}...",
                             hint="the file was altered or replaced after training: retrain the bundle or "
                                  "restore both files together")


def load_sealed(directory: Path, model_file: str, *, what: str, train_hint: str, bundle_format: int,
                hash_field: str, check_card: Callable[[dict[str, Any]], None] | None = None,
                verify: Callable[[Path], None] | None = None) -> tuple[dict[str, Any], Any, frozenset[str]]:
    """(card, unpickled model, training-text hashes) of a bundle directory: the one loading sequence behind the
    detector and toxicity bundles. Card first (``check_card`` then the format), then ``verify`` (the signature
    check) and the model file's recorded hash, all before anything is unpickled; every failure is a
    ``DetectionError`` naming ``what`` ("detector bundle", "toxicity bundle") with a hint."""
    card_path, model_path = directory / CARD_FILE, directory / model_file
    if not card_path.is_file() or not model_path.is_file():
        raise DetectionError(f"no {what} at {directory}", hint=train_hint)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DetectionError(f"{what} card {card_path} is unreadable: {exc}", hint="retrain the bundle") from exc
    if check_card is not None:
        check_card(card)
    if card.get("format") != bundle_format:
        raise DetectionError(f"{what} {directory} has format {card.get('format')}, "
                             f"this version reads {bundle_format}", hint="retrain the bundle")
    if verify is not None:
        verify(directory)
    verify_file_hash(model_path, card.get(hash_field), hash_field)
    try:
        model = joblib.load(model_path)
    except Exception as exc:  # unpickling errors come in many types
        raise DetectionError(f"{what} {model_path} could not be loaded: {exc}",
                             hint="retrain the bundle with this version of the platform") from exc
    hashes_path = directory / TRAINING_HASHES_FILE
    hashes = frozenset(hashes_path.read_text().split()) if hashes_path.is_file() else frozenset()
    return card, model, hashes


def load_bundle(directory: Path, *, verify: Callable[[Path], None] | None = None) -> Bundle:
    """``verify`` (the application's signature check) runs before anything is unpickled and raises to refuse."""
    card, ensemble, hashes = load_sealed(
        directory, ENSEMBLE_FILE, what="detector bundle", bundle_format=BUNDLE_FORMAT, hash_field="ensemble_sha256",
        train_hint="train one: provenance detect train DATA.jsonl... --out NAME (make demo does this)", verify=verify)
    return Bundle(ensemble=ensemble, card=card, path=directory, training_hashes=hashes)


def short_text_hash(text: str) -> str:
    """First 16 hex digits of the normalised text's SHA-256 (enough to recognise training texts)."""
    from detect.cache import text_key

    return text_key(text)[:16]
