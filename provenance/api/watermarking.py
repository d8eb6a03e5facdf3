"""The model-free watermark detector as a long-lived service object: tokenizer and keys load once.

``detect_record`` produces the same contract dict as ``provenance watermark detect --json`` (the CLI's
function is not imported: the API must not depend on CLI modules). Keys are re-read when the key directory
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
from watermark import WatermarkDetector, WatermarkInputError

RESULT_KEYS = ("z_score", "p_value", "green_fraction", "num_tokens_scored", "watermarked", "key_id")
KEY_RECHECK_SECONDS = 5.0


def detect_record(detector: WatermarkDetector, text: str, windowed: bool) -> dict[str, Any]:
    """The contract object for one text (plus abstain/reason; spans when windowed)."""
    try:
        if windowed:
            result = detector.detect_windowed(text)
            overall = result.overall
        else:
            overall = detector.detect(text, details=False)
    except WatermarkInputError as exc:
        return {**dict.fromkeys(RESULT_KEYS), "watermarked": False, "abstain": True, "reason": str(exc)}
    record: dict[str, Any] = {key: getattr(overall, key) for key in RESULT_KEYS}
    record.update(abstain=overall.abstain, reason=overall.reason, keys_tested=overall.keys_tested)
    if windowed:
        record["spans"] = [{"start": s.start, "end": s.end, "p_value": s.p_value} for s in result.spans]
        record["windowed_p_value"] = result.p_value
        record["watermarked"] = bool(overall.watermarked or result.watermarked)
    return record


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
