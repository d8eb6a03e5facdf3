"""Toxicity bundles: ``model.joblib`` + ``card.json`` + the hashes of the training texts, in one directory.

Same pattern as the machine-text bundles (``detect.bundle``): written atomically so a half-written bundle is
never loaded; the card says what the model is (features, data fingerprint, cross-validated and cross-source
metrics, threshold at the target FPR); ``provenance eval-toxicity`` uses the hashes to keep training texts
out of its "shipped model" numbers. Bundles are pickles: load only bundles you trained or trust.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib

from detect.bundle import verify_file_hash, write_directory_atomically
from detect.errors import DetectionError
from detect.toxicity.features import describe_features
from detect.toxicity.model import ToxicityModel

TOXICITY_FORMAT = 1
KIND = "toxicity"
MODEL_FILE = "model.joblib"
CARD_FILE = "card.json"
TRAINING_HASHES_FILE = "training-texts.sha256"


def text_hash(features_text: str) -> str:
    """First 16 hex digits of the normalised text's SHA-256 (enough to recognise training texts)."""
    return hashlib.sha256(features_text.encode("utf-8")).hexdigest()[:16]


@dataclass
class ToxicityBundle:
    model: ToxicityModel
    card: dict[str, Any]
    path: Path | None = None
    training_hashes: frozenset[str] = frozenset()

    @property
    def version(self) -> str:
        """Bundle name plus the model file's hash: what a verdict record should cite."""
        return f"{self.card.get('name')}:{str(self.card.get('model_sha256', ''))[:12]}"


def build_card(name: str, data_summary: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    import sklearn

    return {
        "format": TOXICITY_FORMAT,
        "kind": KIND,
        "name": name,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "features": {**describe_features(),
                     "normalisation": "homoglyph folding, accents stripped, lowercase; RT/@mentions/URLs/"
                                      "HTML entities removed, hashtags unwrapped; leetspeak, 3+ repeated "
                                      "letters and spaced-out letters undone; punctuation and emoji "
                                      "dropped; identity terms kept (their group-specific weight is removed "
                                      "by counterfactual copies at training time)"},
        "probability": "p_toxic: class- and source-balanced logistic score (equal prior odds); toxic = p_toxic >= "
                       "threshold (scan), blocked = p_toxic >= block_threshold (generation screen)",
        "categories": "one balanced logistic head per data category (hate_speech -> hate, offensive_language -> "
                      "offensive); a toxic text gets the categories scoring >= 0.5, else the best one",
        "data": data_summary,
        **details,
        "versions": {"scikit-learn": sklearn.__version__},
    }


def save_toxicity_bundle(bundle: ToxicityBundle, directory: Path, *,
                         seal: Callable[[Path], None] | None = None) -> Path:
    """Write atomically (staging directory + rename); fills in the card's ``model_sha256``. ``seal`` (the
    application's signer) runs on the complete staging directory before it is swapped in."""
    def write(staging: Path) -> None:
        joblib.dump(bundle.model, staging / MODEL_FILE, compress=3)
        bundle.card["model_sha256"] = hashlib.sha256((staging / MODEL_FILE).read_bytes()).hexdigest()
        (staging / CARD_FILE).write_text(json.dumps(bundle.card, indent=2, default=str) + "\n", encoding="utf-8")
        (staging / TRAINING_HASHES_FILE).write_text("".join(f"{h}\n" for h in sorted(bundle.training_hashes)))
        if seal is not None:
            seal(staging)

    write_directory_atomically(directory, write)
    bundle.path = directory
    return directory


def read_toxicity_card(directory: Path) -> dict[str, Any] | None:
    """The card when a toxicity bundle is there, else None (no error: callers decide)."""
    try:
        card = json.loads((directory / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if card.get("kind") != KIND or not (directory / MODEL_FILE).is_file():
        return None
    return card


def load_toxicity_bundle(directory: Path, *, verify: Callable[[Path], None] | None = None) -> ToxicityBundle:
    """``verify`` (the application's signature check) runs before anything is unpickled and raises to refuse."""
    card_path, model_path = directory / CARD_FILE, directory / MODEL_FILE
    if not card_path.is_file() or not model_path.is_file():
        raise DetectionError(f"no toxicity bundle at {directory}",
                             hint="train one: provenance detect train-toxicity DATA.jsonl... --out toxicity "
                                  "(make demo does this when ../shared/data/toxicity exists)")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DetectionError(f"toxicity bundle card {card_path} is unreadable: {exc}",
                             hint="retrain the bundle") from exc
    if card.get("kind") != KIND:
        raise DetectionError(f"{directory} is not a toxicity bundle (kind {card.get('kind')!r})",
                             hint="point the toxicity setting at a bundle made by provenance detect train-toxicity")
    if card.get("format") != TOXICITY_FORMAT:
        raise DetectionError(f"toxicity bundle {directory} has format {card.get('format')}, "
                             f"this version reads {TOXICITY_FORMAT}", hint="retrain the bundle")
    if verify is not None:
        verify(directory)
    verify_file_hash(model_path, card.get("model_sha256"), "model_sha256")
    try:
        model = joblib.load(model_path)
    except Exception as exc:  # unpickling errors come in many types
        raise DetectionError(f"toxicity bundle {model_path} could not be loaded: {exc}",
                             hint="retrain the bundle with this version of the platform") from exc
    hashes_path = directory / TRAINING_HASHES_FILE
    hashes = frozenset(hashes_path.read_text().split()) if hashes_path.is_file() else frozenset()
    return ToxicityBundle(model=model, card=card, path=directory, training_hashes=hashes)
