"""Evidence for the item view, read from the stored verdict: watermark green/red tokens and windowed spans
(stored compactly by the pipeline's watermark signal, offsets already on the redacted text), and the
manifest signature check.

Nothing is recomputed here: the dashboard shows what the pipeline decided. Verdicts scanned before the
evidence was stored show the stored summary with a note saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provenance.settings import Settings


@dataclass
class TokenEvidence:
    tokens: list[tuple[int, int, bool | None]] = field(default_factory=list)  # (start, end, green or None)
    spans: list[tuple[int, int, float]] = field(default_factory=list)  # (start, end, p_value)
    summary: dict[str, Any] = field(default_factory=dict)
    note: str | None = None  # why token-level evidence is missing, when it is


def token_evidence(watermark: dict[str, Any] | None, text: str) -> TokenEvidence:
    """Green/red tokens and windowed spans stored with the verdict, clipped to the stored text."""
    stored = watermark or {}
    summary = {key: value for key, value in stored.items() if key not in ("evidence", "provenance")}
    found = stored.get("evidence")
    if not isinstance(found, dict):
        return TokenEvidence(summary=summary, note="token-level watermark evidence was not stored with this "
                                                   "verdict (scanned by an older version); showing the summary")
    tokens: list[tuple[int, int, bool | None]] = []
    try:
        offsets = [int(value) for value in found.get("offsets") or []]
        for index, bit in enumerate(str(found.get("green") or "")):
            start, end = offsets[2 * index], offsets[2 * index + 1]
            if 0 <= start < end <= len(text):
                tokens.append((start, end, None if bit == "-" else bit == "1"))
        spans = [(int(a), int(b), float(p)) for a, b, p in found.get("spans") or [] if 0 <= int(a) < int(b)]
    except (IndexError, TypeError, ValueError):
        return TokenEvidence(summary=summary, note="the stored token-level evidence is unreadable; showing the "
                                                   "summary")
    if found.get("windowed_p_value") is not None:
        summary["windowed_p_value"] = found["windowed_p_value"]
    return TokenEvidence(tokens=tokens, spans=spans, summary=summary)


def watermark_summary(summary: dict[str, Any]) -> str:
    """One line for the watermark panel: the verdict (``too short`` when the text could not reach the rate it
    was decided at, so a reviewer does not read it as "not watermarked"), z, p, tokens scored of those
    required, the scheme and the key. Verdicts stored before these fields existed show ``n/a``."""
    z, p = summary.get("z_score"), summary.get("p_value")
    verdict = "detected" if summary.get("watermarked") else "not detected"
    if summary.get("too_short"):
        verdict = "too short to decide"
    scored = summary.get("num_tokens_scored", "n/a")
    required = summary.get("min_tokens_required")
    tokens = f"{scored} of {required} needed" if required is not None else f"{scored}"
    rate = f" (FPR {summary['fpr']:g})" if summary.get("fpr") is not None else ""
    return (f"{verdict}{rate} · z = {'n/a' if z is None else f'{z:.2f}'} · p = "
            f"{'n/a' if p is None else f'{p:.2e}'} · tokens scored {tokens} · scheme "
            f"{summary.get('scheme') or 'n/a'} · key {summary.get('key_id') or 'none'}")


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
    """(valid, reason) of a ledger manifest's signature, checked by the provenance signal (the same check as the
    ledger lookup and the API); the dashboard never verifies signatures itself."""
    from provenance.signals import signal_set

    return signal_set(settings).get("provenance").verify(manifest)
