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

from detect.bundle import load_sealed, write_directory_atomically
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


def _check_kind(directory: Path, card: dict[str, Any]) -> None:
    if card.get("kind") != KIND:
        raise DetectionError(f"{directory} is not a toxicity bundle (kind {card.get('kind')!r})",
                             hint="point the toxicity setting at a bundle made by provenance detect train-toxicity")


def load_toxicity_bundle(directory: Path, *, verify: Callable[[Path], None] | None = None) -> ToxicityBundle:
    """``verify`` (the application's signature check) runs before anything is unpickled and raises to refuse."""
    card, model, hashes = load_sealed(
        directory, MODEL_FILE, what="toxicity bundle", bundle_format=TOXICITY_FORMAT, hash_field="model_sha256",
        train_hint="train one: provenance detect train-toxicity DATA.jsonl... --out toxicity "
                   "(make demo does this when ../shared/data/toxicity exists)",
        check_card=lambda card: _check_kind(directory, card), verify=verify)
    return ToxicityBundle(model=model, card=card, path=directory, training_hashes=hashes)
