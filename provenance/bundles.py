"""Bundle names, cards, versions and the active-bundle state, read with JSON only.

Which detector bundle is active, where a named bundle lives, what its card says and which version a verdict
records are questions the submission path, the light CLI commands, the dashboard and the signals all ask, and
none of them may import scikit-learn, joblib or the database to answer. So this module owns those answers and
imports nothing of the platform but settings, errors and (lazily) the signature check. ``provenance.promotion``
*changes* the state (audited); ``provenance.detection`` builds the scorer and bundle; both read through here.

``<home>/detectors/active.json`` names the active bundle and keeps every promotion and rollback, so ``promote
PREVIOUS`` knows where to go back to and the dashboard can show the last before/after numbers. An explicit
``PROVENANCE_DETECTOR_BUNDLE`` still wins (a deployment that pins its bundle keeps it pinned). ``active.json`` is
signed, and a state file this installation did not sign is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from detect.bundle_card import read_card as read_bundle_card
from detect.errors import DetectionError
from provenance.errors import ProvenanceError
from provenance.settings import Settings

ONNX_KIND = "onnx-export"  # the kind signed into an ONNX export cache folder
DETECTOR_KIND = "detector-bundle"  # the kind signed into a detector bundle's signature.json
SAFE_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
ACTIVE_FILE = "active.json"
STATE_HINT = ("promotions are recorded by provenance detect promote; a state file from an older version (or an "
              "edited one) is not trusted: remove it and promote again")
NO_BUNDLE = "no-bundle"


class PromotionError(ProvenanceError):
    """A promotion that must not happen (worse, stale comparison, another scorer) or a promotion state that is
    not trusted: nothing was changed."""


def state_path(settings: Settings) -> Path:
    return settings.detectors_dir / ACTIVE_FILE


def read_state(settings: Settings) -> dict[str, Any]:
    """The promotion state; refused (PromotionError) when the file exists but is not signed by this
    installation: which bundle is active is decided by an audited promotion, not by whoever can write a file."""
    path = state_path(settings)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"active": None, "history": []}
    except (OSError, json.JSONDecodeError) as exc:
        raise PromotionError(f"{path} is unreadable: {exc}", hint=STATE_HINT) from None
    if not isinstance(state, dict):
        raise PromotionError(f"{path} is not a promotion state", hint=STATE_HINT)
    from provenance.artifact_signing import ArtifactSignatureError, verify_document

    body = {"active": state.get("active"), "history": state.get("history") or []}
    try:
        verify_document(settings.home, {"payload": body, "signature": state.get("signature")}, str(path))
    except ArtifactSignatureError as exc:
        raise PromotionError(str(exc), hint=STATE_HINT) from None
    return body


def write_state(settings: Settings, state: dict[str, Any]) -> None:
    """Write the state signed with this installation's key (``signature`` over ``active`` and ``history``)."""
    from provenance.artifact_signing import sign_document

    body = json.loads(json.dumps({"active": state.get("active"), "history": state.get("history") or []},
                                 default=str))
    signed = sign_document(settings.home, body)
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".active.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump({**body, "signature": signed["signature"]}, out, indent=2)
        out.write("\n")
    os.replace(staging, path)


def pinned(settings: Settings) -> bool:
    """True when the bundle is set explicitly (environment or TOML), which overrides promotions."""
    return "detector_bundle" in settings.model_fields_set


def active_bundle_name(settings: Settings) -> str:
    if pinned(settings):
        return settings.detector_bundle
    return str(read_state(settings).get("active") or settings.detector_bundle)


def last_promotion(settings: Settings) -> dict[str, Any] | None:
    history = read_state(settings).get("history") or []
    return history[-1] if history else None


def bundle_dir(settings: Settings, name: str | None = None, *, kind: str = "bundle") -> Path:
    """A bundle name (under <home>/detectors) or an explicit directory path (detector and toxicity bundles).
    No name: the active detector bundle (the last one promoted, unless the setting pins one)."""
    if name is None:
        name = active_bundle_name(settings)
    if "/" in name or name.startswith("."):
        return Path(name).expanduser().resolve()
    if not name or not set(name) <= SAFE_NAME_CHARS:
        raise DetectionError(f"{kind} name {name!r} has unsupported characters",
                             hint="use letters, digits, '-', '_' and '.', or pass a directory path")
    return settings.detectors_dir / name


def bundle_version(settings: Settings, name: str | None = None) -> str:
    """``name:card-digest`` of the configured detector bundle (and of the memorisation index guarding its scorer,
    when there is one): verdicts are unique per document and version, so retraining the bundle or building the
    index lets the same documents be judged again without touching old verdicts."""
    directory = bundle_dir(settings, name)
    card = read_bundle_card(directory)
    if card is None:
        return NO_BUNDLE
    from provenance.memorisation import guard_index_digest

    index = guard_index_digest(settings.home, card.get("scorer") or {})  # the guard changes verdicts too
    payload = card if index is None else {**card, "memorisation_index_sha256": index}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{directory.name}:{digest}"
