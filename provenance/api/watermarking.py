"""The model-free watermark detector as a long-lived service object for the API: tokenizer and keys load once.

A thin adapter over the watermark signal (``provenance.signals``, the one place a detector is built): it
creates the active key on a fresh installation, fails at startup when no key can be used, and re-reads the
keys when the key directory changes (``provenance keys rotate`` while the server runs).
"""

from __future__ import annotations

from typing import Any

from provenance.settings import Settings
from provenance.signals import signal_set
from provenance.signals.watermark import KEY_RECHECK_SECONDS, WatermarkSignal

__all__ = ["KEY_RECHECK_SECONDS", "WatermarkService"]


class WatermarkService:
    """``check(text, windowed)`` -> the contract dict of ``provenance watermark detect --json``."""

    def __init__(self, settings: Settings, tokenizer: Any) -> None:
        self.settings = settings
        self.tokenizer = tokenizer
        signal = signal_set(settings).get("watermark", tokenizer=tokenizer, create_key=True)
        assert isinstance(signal, WatermarkSignal)
        self.signal = signal
        self.signal.require()  # a fresh installation verifies (and generates) with its own key

    @property
    def detector(self) -> Any:
        return self.signal.require()

    def check(self, text: str, windowed: bool = False, fpr: float | None = None) -> dict[str, Any]:
        return self.signal.check(text, windowed, fpr)
