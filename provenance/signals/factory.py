"""The one factory: a signal by name, built from ``Settings`` (models, keys and bundles load lazily)."""

from __future__ import annotations

from typing import Any

from provenance.settings import Settings
from provenance.signals.base import Signal

SIGNAL_NAMES = ("detection", "watermark", "pii", "toxicity", "provenance")
DOCUMENT_SIGNALS = ("detection", "pii", "toxicity", "watermark")  # what the scanning pipeline scores per text


def build_signal(name: str, settings: Settings, **options: Any) -> Signal:
    """``options`` are the signal's own (``bundle_name``, ``model``, ``transformers_key``, ``evidence``...)."""
    if name == "detection":
        from provenance.signals.detection import DetectionSignal

        return DetectionSignal(settings, **options)
    if name == "watermark":
        from provenance.signals.watermark import WatermarkSignal

        return WatermarkSignal(settings, **options)
    if name == "pii":
        from provenance.signals.pii import PIISignal

        return PIISignal(settings, **options)
    if name == "toxicity":
        from provenance.signals.toxicity import ToxicitySignal

        return ToxicitySignal(settings, **options)
    if name == "provenance":
        from provenance.signals.provenance import ProvenanceSignal

        return ProvenanceSignal(settings, **options)
    raise ValueError(f"unknown signal {name!r} (known: {', '.join(SIGNAL_NAMES)})")


def build_signals(settings: Settings, names: tuple[str, ...] = DOCUMENT_SIGNALS,
                  options: dict[str, dict[str, Any]] | None = None) -> dict[str, Signal]:
    """Signals in scoring order; ``options[name]`` are passed to that signal."""
    return {name: build_signal(name, settings, **(options or {}).get(name, {})) for name in names}
