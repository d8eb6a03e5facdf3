"""The watermark as a signal: the one place a ``WatermarkDetector`` is built (CLI, API, pipeline, demo).

Model-free: it needs the tokenizer and the stored verification keys, never the weights. Keys are re-read when
the key directory changes (``provenance keys rotate`` while a server or worker runs), checked at most every
few seconds. Besides the contract record (``provenance.watermark_records``), the pipeline stores compact
per-token evidence (character offsets and green bits, plus the best windowed spans) so the reviewer
dashboard shows it from the stored row instead of re-running the detector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.errors import ProvenanceError
from provenance.settings import Settings
from provenance.signals.base import Availability, BaseSignal, SignalResult

KEY_RECHECK_SECONDS = 5.0
NO_KEYS_REASON = "no watermark keys in this data directory"
EVIDENCE_MAX_TOKENS = 4096  # longer documents keep their first tokens' evidence (the record covers all)


@dataclass
class WatermarkResult(SignalResult):
    """``value``: the contract object of ``provenance watermark detect --json``; ``evidence``: compact
    per-token detail when asked for (``offsets`` = flat [start, end, ...], ``green`` = one of 1/0/- per token,
    ``spans`` = [[start, end, p_value], ...]). Stored as the contract object with ``evidence`` inside."""

    value: dict[str, Any]
    evidence: dict[str, Any] | None = None

    @property
    def watermarked(self) -> bool:
        return bool(self.value.get("watermarked"))

    def record(self) -> dict[str, Any]:
        record = dict(self.value)
        if self.evidence is not None:
            record["evidence"] = self.evidence
        return record


class WatermarkSignal(BaseSignal):
    """Tokenizer + verification keys (+ optionally transformers' lefthash key) -> detector, rebuilt when the
    key files change. ``create_key``: make the active key for this tokenizer when none exists (the API, so a
    fresh installation verifies with the key it generates with)."""

    name = "watermark"
    indexed = {"watermarked": "watermarked", "watermark_z": "z_score"}
    flat = {"export": ("watermark",), "api": ("watermark", "watermarked")}

    @classmethod
    def flat_fields(cls, records: Mapping[str, Any], view: str) -> dict[str, Any]:
        """The export's four-key summary; the API's whole stored record, carrying the ledger match (the
        provenance signal's record) under ``provenance`` when the reader may see one."""
        record = records.get(cls.name) or {}
        if view == "export":
            return {"watermark": {"z_score": record.get("z_score"), "p_value": record.get("p_value"),
                                  "watermarked": bool(record.get("watermarked")), "key_id": record.get("key_id")}}
        shown = dict(record)
        if records.get("provenance"):
            shown["provenance"] = records["provenance"]
        return {"watermark": shown, "watermarked": bool(record.get("watermarked"))}

    @classmethod
    def review_share(cls, columns: Mapping[str, Any]) -> float:
        """A watermark the ledger does not explain (our generator's text, but no manifest says so)."""
        return 3.0 if columns["watermarked"] and not columns["ledger_match"] else 0.0

    def __init__(self, settings: Settings, *, model: str | None = None, tokenizer: Any = None,
                 transformers_key: int | None = None, create_key: bool = False, evidence: bool = False) -> None:
        from provenance.keystore import KeyStore

        self.settings = settings
        self.model = model
        self._tokenizer = tokenizer
        self._found: Any = None
        self.transformers_key = transformers_key
        self.create_key = create_key
        self.evidence = evidence
        self.store = KeyStore(settings.home)
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._checked = 0.0
        self._detector: Any = None
        self._missing: str | None = None

    # -- construction ----------------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from provenance.runtime import load_configured_tokenizer

            self._tokenizer, self._found = load_configured_tokenizer(self.settings, self.model)
        return self._tokenizer

    @classmethod
    def stamp(cls, settings: Settings, **options: Any) -> tuple[Any, ...]:
        """The key files (names and modification times): ``provenance keys rotate``, ``keys create`` or keys
        installed from the store (``artifacts sync``) make ``SignalSet`` rebuild the signal, so a long-lived API
        process or worker verifies with the new key without a restart."""
        from provenance.signing import keys_dir

        return key_files_stamp(keys_dir(settings.home) / "watermark")

    def _key_stamp(self) -> tuple[Any, ...]:
        return key_files_stamp(self.store.root)

    def _build(self) -> None:
        from watermark import WatermarkDetector, WatermarkKey

        tokenizer = self.tokenizer
        if self.create_key:
            self.store.active_or_create(tokenizer)
        stamp = self._key_stamp()
        keys = list(self.store.verification_keys(tokenizer))
        if self.transformers_key is not None:
            from transformers import AutoConfig

            found = self._found
            location = found.location if found is not None else self.model
            local_only = found.local_only if found is not None else True
            vocab_size = AutoConfig.from_pretrained(location, local_files_only=local_only).vocab_size
            keys.append(WatermarkKey.for_transformers(tokenizer, vocab_size, hashing_key=self.transformers_key))
        self._detector = WatermarkDetector(tokenizer, keys) if keys else None
        self._missing = None if keys else NO_KEYS_REASON
        self._stamp = stamp

    @property
    def detector(self) -> Any:
        """The current detector (None when this tokenizer has no key), re-checked against the key files."""
        now = time.monotonic()
        if self._stamp is None or now - self._checked > KEY_RECHECK_SECONDS:
            with self._lock:
                self._checked = now
                if self._stamp is None or self._key_stamp() != self._stamp:
                    self._build()
        return self._detector

    def require(self) -> Any:
        """The detector, or a ProvenanceError saying how to get a key."""
        detector = self.detector
        if detector is None:
            name = getattr(self._found, "name", None) or "this tokenizer"
            raise ProvenanceError(f"no watermark keys for the tokenizer of {name}",
                                  hint="generate with provenance generate (creates a key), or provenance keys create")
        return detector

    # -- the Signal interface --------------------------------------------------------------------------
    @property
    def version(self) -> str | None:
        detector = self.detector
        return None if detector is None else ",".join(detector.key_ids)

    @property
    def key_ids(self) -> list[str]:
        detector = self.detector
        return [] if detector is None else list(detector.key_ids)

    def availability(self) -> Availability:
        if self.store.root.is_dir() and any(self.store.root.glob("wm-*.json")):
            return Availability(True)
        return Availability(False, NO_KEYS_REASON)

    def check(self, text: str | bytes, windowed: bool = False, fpr: float | None = None) -> dict[str, Any]:
        """One text's contract record (decided at ``fpr`` when given, else by the default z > 4 rule).

        One text at a time per process: Hugging Face fast tokenizers may fail
        ("Already borrowed") when two threads use one tokenizer at once, and the work holds the GIL anyway."""
        from provenance.watermark_records import detect_record

        detector = self.require()
        with self._check_lock:
            return detect_record(detector, text, windowed, fpr)

    def score(self, texts: Sequence[str]) -> list[WatermarkResult]:
        detector = self.detector
        if detector is None:
            from provenance.watermark_records import abstain_record

            record = abstain_record(self._missing or NO_KEYS_REASON, num_tokens_scored=0)  # as stored before
            return [WatermarkResult(dict(record)) for _ in texts]
        with self._check_lock:
            return [self._one(detector, text) for text in texts]

    def _one(self, detector: Any, text: str) -> WatermarkResult:
        from provenance.watermark_records import abstain_record, detect_record, overall_record
        from watermark import WatermarkInputError

        if not self.evidence:
            return WatermarkResult(detect_record(detector, text, windowed=False))
        try:
            windowed = detector.detect_windowed(text, details=True)
        except WatermarkInputError as exc:
            return WatermarkResult(abstain_record(str(exc)))
        overall = windowed.overall  # exactly detect(text): the record is the non-windowed contract
        return WatermarkResult(overall_record(overall), compact_evidence(overall, windowed))


def key_files_stamp(root: Path) -> tuple[Any, ...]:
    """(name, mtime_ns, inode) of every watermark key file under ``root``: a few ``stat`` calls, no file read
    (the inode too: a file replaced within one tick of a coarse clock still counts as changed)."""
    if not root.is_dir():
        return ()
    stamps = []
    for path in root.glob("wm-*.json"):
        try:
            found = path.stat()
        except OSError:  # removed while listing (a revocation): the next check sees the folder as it is then
            continue
        stamps.append((path.name, found.st_mtime_ns, found.st_ino))
    return tuple(sorted(stamps))


def compact_evidence(overall: Any, windowed: Any) -> dict[str, Any]:
    offsets: list[int] = []
    green = []
    for (start, end), bit in list(zip(overall.token_offsets or [], overall.green_mask or [], strict=False))[
            :EVIDENCE_MAX_TOKENS]:
        offsets += [int(start), int(end)]
        green.append("-" if bit is None else "1" if bit else "0")
    spans = [[int(s.start), int(s.end), float(s.p_value)] for s in windowed.spans
             if s.start is not None and s.end is not None]
    return {"offsets": offsets, "green": "".join(green), "spans": spans,
            "windowed_p_value": windowed.p_value, "green_fraction": overall.green_fraction}


def move_evidence(evidence: dict[str, Any] | None, mapping: Sequence[tuple[int, int, int, int]]) -> (
        dict[str, Any] | None):
    """Evidence offsets (computed on the original text) moved onto the redacted text that is stored: tokens
    inside a redacted span are dropped (the entity is shown instead), later tokens shift by the length change."""
    if not evidence or not mapping:
        return evidence
    spans = sorted(mapping)

    def moved(start: int, end: int) -> tuple[int, int] | None:
        shift = 0
        for o_start, o_end, r_start, r_end in spans:
            if end <= o_start:
                break
            if start < o_end:  # overlaps a redacted entity
                return None
            shift += (r_end - r_start) - (o_end - o_start)
        return start + shift, end + shift

    offsets, green = evidence.get("offsets") or [], evidence.get("green") or ""
    new_offsets: list[int] = []
    new_green = []
    for index, bit in enumerate(green):
        place = moved(offsets[2 * index], offsets[2 * index + 1])
        if place is not None:
            new_offsets += place
            new_green.append(bit)
    new_spans = []
    for start, end, p_value in evidence.get("spans") or []:
        first, last = moved(start, start), moved(end, end)
        if first is not None and last is not None:
            new_spans.append([first[0], last[0], p_value])
    return {**evidence, "offsets": new_offsets, "green": "".join(new_green), "spans": new_spans}
