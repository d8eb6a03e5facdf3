"""The model-free watermark detector as a long-lived service object for the API: tokenizer and keys load once.

A thin adapter over the watermark signal (``provenance.signals``, the one place a detector is built): it
creates the active key on a fresh installation, fails at startup when no key can be used, and asks the
process's ``SignalSet`` for the signal on every use, so a rotated key (``provenance keys rotate`` while the
server runs, or keys installed from the store) is used without a restart: the signal's stamp is the key files.
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
        self.signal.require()  # a fresh installation verifies (and generates) with its own key

    @property
    def signal(self) -> WatermarkSignal:
        """The current signal: rebuilt by the ``SignalSet`` when the key files changed."""
        signal = signal_set(self.settings).get("watermark", tokenizer=self.tokenizer, create_key=True)
        assert isinstance(signal, WatermarkSignal)
        return signal

    @property
    def detector(self) -> Any:
        return self.signal.require()

    def check(self, text: str, windowed: bool = False, fpr: float | None = None) -> dict[str, Any]:
        return self.signal.check(text, windowed, fpr)
