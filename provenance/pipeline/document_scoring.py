"""Score documents in-process: detection ensemble + watermark + PII (+ toxicity when a bundle exists).

The Celery task and the benchmark's in-process baseline both call ``DocumentScorer.score``, so the queue's
overhead is measured against exactly the same work. Models load lazily, once per process.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from provenance.detection import DetectionService, bundle_dir, read_bundle_card
from provenance.settings import Settings

log = logging.getLogger(__name__)
LOW_MARGIN = 0.1  # a machine verdict this close to its threshold still goes to a reviewer
NO_BUNDLE = "no-bundle"


def bundle_version(settings: Settings) -> str:
    """``name:card-digest`` of the configured detector bundle: verdicts are unique per document and version,
    so retraining the bundle lets the same documents be judged again without touching old verdicts."""
    directory = bundle_dir(settings)
    card = read_bundle_card(directory)
    if card is None:
        return NO_BUNDLE
    digest = hashlib.sha256(json.dumps(card, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{directory.name}:{digest}"


@dataclass
class DocumentResult:
    """Everything the verdict row stores about one document (PII offsets index ``redacted_text``)."""

    p_machine: float | None
    verdict: str
    margin: float | None
    detectors: dict[str, Any]
    reasons: list[str]
    num_tokens: int | None
    watermark: dict[str, Any]
    redacted_text: str
    pii: list[dict[str, Any]]
    toxicity: dict[str, Any] | None
    models: dict[str, Any] = field(default_factory=dict)

    @property
    def watermarked(self) -> bool:
        return bool(self.watermark.get("watermarked"))

    @property
    def pii_types(self) -> str:
        types = sorted({item["type"] for item in self.pii})
        return "," + ",".join(types) + "," if types else ""

    @property
    def misuse(self) -> bool:
        """Toxic over the bundle's threshold, or machine-generated and toxic-leaning (p_toxic >= 0.5)."""
        if not self.toxicity:
            return False
        if self.toxicity.get("toxic"):
            return True
        return self.verdict == "machine" and float(self.toxicity.get("p_toxic") or 0.0) >= 0.5

    def review(self, ledger_match: bool) -> tuple[bool, float]:
        """(needs review, priority): misuse first, then unexplained watermarks, uncertain verdicts, close
        machine calls and PII."""
        priority = 0.0
        if self.misuse:
            priority += 4.0
        if self.watermarked and not ledger_match:
            priority += 3.0
        if self.verdict == "uncertain":
            priority += 2.0 + (1.0 - abs((self.p_machine or 0.5) - 0.5) * 2)
        if self.verdict == "machine" and self.margin is not None and self.margin < LOW_MARGIN:
            priority += 1.5
        if self.pii:
            priority += min(1.0, len(self.pii) / 5)
        return priority > 0, round(priority, 4)


def _margin(p_machine: float | None, thresholds: Any) -> float | None:
    if p_machine is None or thresholds is None:
        return None
    return round(min(abs(p_machine - thresholds.machine), abs(p_machine - thresholds.human)), 6)


class DocumentScorer:
    """One per process; ``score`` takes raw texts and returns one ``DocumentResult`` each, in order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.version = bundle_version(settings)

    @cached_property
    def detection(self) -> DetectionService | None:
        return None if self.version == NO_BUNDLE else DetectionService(self.settings)

    @cached_property
    def watermark_detector(self) -> Any:
        """The watermark detector over every verification key, or None when no key exists yet."""
        from provenance.keystore import KeyStore
        from provenance.runtime import load_configured_tokenizer
        from watermark import WatermarkDetector

        tokenizer, _ = load_configured_tokenizer(self.settings)
        keys = KeyStore(self.settings.home).verification_keys(tokenizer)
        return WatermarkDetector(tokenizer, keys) if keys else None

    @cached_property
    def pii_analyzer(self) -> Any:
        from detect.pii import get_analyzer
        from provenance.cli.pii_cmd import pii_config

        return get_analyzer(pii_config(self.settings).with_changes(n_process=1))

    @cached_property
    def pii_secrets(self) -> dict[str, bytes | None]:
        from provenance.cli.pii_cmd import encryption_key, hmac_secret

        operator = self.settings.pii_operator
        return {"secret": hmac_secret(self.settings) if operator == "hash" else None,
                "key": encryption_key(self.settings, create=True) if operator == "encrypt" else None}

    @cached_property
    def toxicity(self) -> Any:
        try:
            from provenance.toxicity import ToxicityService
        except ImportError:  # a deployment without the toxicity module: documents get toxicity = None
            return None
        service = ToxicityService(self.settings)
        return service if service.available else None

    def warm_up(self) -> None:
        """Load every model now (a worker does this at start, so the first task is not slow)."""
        self.score(["Warm-up text for the scanning pipeline, long enough to tokenise and score once."])

    def models(self) -> dict[str, Any]:
        info: dict[str, Any] = {"bundle": self.version, "pii_operator": self.settings.pii_operator}
        if self.detection is not None:
            identity = self.detection.identity
            info["scorer"] = {"name": identity.name, "weights_sha256": identity.weights_sha256}
        if self.watermark_detector is not None:
            info["watermark_keys"] = list(self.watermark_detector.key_ids)
        if self.toxicity is not None:
            info["toxicity"] = self.toxicity.version
        return info

    def _detect(self, texts: Sequence[str]) -> list[tuple[Any, ...]]:
        if self.detection is None:
            return [(None, "abstain", None, {}, ["no detector bundle: run provenance detect train"], None)
                    for _ in texts]
        thresholds = getattr(self.detection.bundle.ensemble, "thresholds", None)
        verdicts = self.detection.judge(texts)
        return [(v.p_machine, v.verdict, _margin(v.p_machine, thresholds),
                 {k: None if val is None else round(float(val), 6) for k, val in v.detectors.items()},
                 list(v.reasons), v.diagnostics.get("tokens")) for v in verdicts]

    def _watermark(self, text: str) -> dict[str, Any]:
        from provenance.watermark_records import detect_record

        if self.watermark_detector is None:
            return {"z_score": None, "p_value": None, "watermarked": False, "key_id": None,
                    "num_tokens_scored": 0, "abstain": True, "reason": "no watermark keys in this data directory"}
        return detect_record(self.watermark_detector, text, windowed=False)

    def _pii(self, texts: Sequence[str]) -> list[tuple[str, list[dict[str, Any]]]]:
        from detect.pii.operators import redact

        results = []
        for text, entities in zip(texts, self.pii_analyzer.analyze_batch(list(texts)), strict=True):
            redaction = redact(text, entities, self.settings.pii_operator, **self.pii_secrets)
            scores = {(e.start, e.end): e.score for e in entities}
            items = [{"type": item["type"], "start": item["start"], "end": item["end"],
                      "score": round(float(scores.get((item["original_start"], item["original_end"]), 0.0)), 4)}
                     for item in redaction.items]
            results.append((redaction.text, items))
        return results

    def score(self, texts: Sequence[str]) -> list[DocumentResult]:
        if not texts:
            return []
        detections = self._detect(texts)
        redactions = self._pii(texts)
        toxicity = self.toxicity.score(list(texts)) if self.toxicity is not None else [None] * len(texts)
        models = self.models()
        results = []
        for text, detection, (redacted, pii), tox in zip(texts, detections, redactions, toxicity, strict=True):
            p_machine, verdict, margin, detectors, reasons, tokens = detection
            results.append(DocumentResult(
                p_machine=None if p_machine is None else round(float(p_machine), 6), verdict=verdict,
                margin=margin, detectors=detectors, reasons=reasons, num_tokens=tokens,
                watermark=self._watermark(text), redacted_text=redacted, pii=pii, toxicity=tox, models=models))
        return results
