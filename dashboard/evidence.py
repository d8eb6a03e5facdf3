"""Evidence computed on demand for the item view: watermark green/red tokens, manifest signature, ledger.

The watermark detector needs only the tokenizer and the stored keys (no model weights). It is built once per
server process (``st.cache_resource``); when no tokenizer or key can be loaded, the item view falls back to
the summary the pipeline stored, with a note saying why, instead of failing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

from provenance.settings import Settings


@dataclass
class TokenEvidence:
    tokens: list[tuple[int, int, bool | None]] = field(default_factory=list)  # (start, end, green or None)
    spans: list[tuple[int, int, float]] = field(default_factory=list)  # (start, end, p_value)
    summary: dict[str, Any] = field(default_factory=dict)
    note: str | None = None  # why token-level evidence is missing, when it is


@st.cache_resource(show_spinner="Loading the watermark detector (tokenizer and keys)...")
def _detector(home: str, model: str | None) -> Any:
    """The detector for a data directory and model, built once per server process. Failures raise and are
    not cached, so keys created later are picked up without restarting the dashboard."""
    from provenance.keystore import KeyStore
    from provenance.runtime import load_configured_tokenizer
    from watermark import WatermarkDetector

    settings = Settings(home=Path(home), model=model)
    tokenizer, _found = load_configured_tokenizer(settings)
    keys = KeyStore(settings.home).verification_keys(tokenizer)
    if not keys:
        raise LookupError("no watermark keys for the configured tokenizer in " + str(Path(home) / "keys"))
    return WatermarkDetector(tokenizer, keys)


@st.cache_data(show_spinner=False, max_entries=256)
def _token_evidence(home: str, model: str | None, digest: str, text: str) -> TokenEvidence:
    detector = _detector(home, model)  # raises when unavailable: failures are never cached
    try:
        windowed = detector.detect_windowed(text, details=True)
    except Exception as exc:  # e.g. text the tokenizer cannot take; never a traceback in the view
        return TokenEvidence(note=f"watermark detection failed on this text: {exc}".splitlines()[0])
    overall = windowed.overall
    mask = overall.green_mask or []
    offsets = overall.token_offsets or []
    tokens = [(int(a), int(b), green) for (a, b), green in zip(offsets, mask, strict=False)]
    spans = [(int(s.start), int(s.end), float(s.p_value)) for s in windowed.spans
             if s.start is not None and s.end is not None]
    summary = {"z_score": overall.z_score, "p_value": overall.p_value, "green_fraction": overall.green_fraction,
               "num_tokens_scored": overall.num_tokens_scored, "watermarked": bool(overall.watermarked or
                                                                                   windowed.watermarked),
               "key_id": overall.key_id, "windowed_p_value": windowed.p_value, "abstain": overall.abstain,
               "reason": overall.reason}
    return TokenEvidence(tokens=tokens, spans=spans, summary=summary)


def token_evidence(settings: Settings, text: str) -> TokenEvidence:
    """Green/red tokens and windowed spans of ``text`` (cached per text)."""
    if not text.strip():
        return TokenEvidence(note="no redacted text stored for this document")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    try:
        return _token_evidence(str(settings.home), settings.model, digest, text)
    except Exception as exc:  # no tokenizer, no keys, unreadable key file: the stored summary still shows
        reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
        return TokenEvidence(note=f"token-level watermark evidence unavailable ({reason}); showing the stored "
                                  "summary")


def stored_spans(watermark: dict[str, Any] | None) -> list[tuple[int, int, float]]:
    """Windowed spans from the stored detector contract, tolerating missing or malformed fields."""
    spans = []
    for span in (watermark or {}).get("spans") or []:
        try:
            spans.append((int(span["start"]), int(span["end"]), float(span.get("p_value") or 0.0)))
        except (KeyError, TypeError, ValueError):
            continue
    return spans


def manifest_status(settings: Settings, manifest: dict[str, Any]) -> tuple[bool, str]:
    """(valid, reason) of a ledger manifest's Ed25519 signature with the installation's public key.

    The text is not checked against ``text_sha256``: the store keeps only the redacted text, which differs
    from the generated text whenever PII was found. The public key is read, never created here."""
    from generator.stamping import verify_manifest
    from provenance.signing import PUBLIC_KEY_FILE, keys_dir, load_public_key

    path = keys_dir(settings.home) / PUBLIC_KEY_FILE
    if not path.is_file():
        return False, f"cannot verify: no public key at {path} (export one with provenance keys public)"
    try:
        return verify_manifest(manifest, load_public_key(path))
    except Exception as exc:
        return False, f"cannot verify: {exc}".splitlines()[0]
