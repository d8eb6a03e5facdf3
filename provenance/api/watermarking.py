"""The model-free watermark detector as a long-lived service object: tokenizer and keys load once.

``detect_record`` (``provenance.watermark_records``) produces the same contract dict as
``provenance watermark detect --json``. Keys are re-read when the key directory
changes (``provenance keys rotate`` while the server runs), checked at most every few seconds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from provenance.errors import ProvenanceError
from provenance.keystore import KeyStore
from provenance.settings import Settings
from provenance.watermark_records import detect_record
from watermark import WatermarkDetector

KEY_RECHECK_SECONDS = 5.0


class WatermarkService:
    """Tokenizer + verification keys -> a detector, rebuilt when the key files change."""

    def __init__(self, settings: Settings, tokenizer: Any) -> None:
        self.settings = settings
        self.tokenizer = tokenizer
        self.store = KeyStore(settings.home)
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._checked = 0.0
        self._detector: WatermarkDetector | None = None
        self.store.active_or_create(tokenizer)  # a fresh installation verifies (and generates) with its own key
        self._reload()

    def _key_stamp(self) -> tuple[Any, ...]:
        root: Path = self.store.root
        if not root.is_dir():
            return ()
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in root.glob("wm-*.json")))

    def _reload(self) -> None:
        stamp = self._key_stamp()
        keys = self.store.verification_keys(self.tokenizer)
        if not keys:
            raise ProvenanceError("no watermark keys for this tokenizer",
                                  hint="provenance keys create (or generate once) before serving")
        self._detector = WatermarkDetector(self.tokenizer, keys)
        self._stamp = stamp

    @property
    def detector(self) -> WatermarkDetector:
        now = time.monotonic()
        if now - self._checked > KEY_RECHECK_SECONDS:
            with self._lock:
                self._checked = now
                if self._key_stamp() != self._stamp:
                    self._reload()
        assert self._detector is not None
        return self._detector

    def check(self, text: str, windowed: bool = False) -> dict[str, Any]:
        """One text at a time per process: Hugging Face fast tokenizers may fail ("Already borrowed") when two
        threads use one tokenizer at once, and the work holds the GIL anyway. Held per text, never per batch."""
        detector = self.detector
        with self._check_lock:
            return detect_record(detector, text, windowed)
