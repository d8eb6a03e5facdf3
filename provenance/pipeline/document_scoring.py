"""Score documents in-process: a loop over the registered document signals (detection ensemble, PII, toxicity
when a bundle exists, watermark with per-token evidence, and any signal registered beside them), each obtained
from the process's ``SignalSet``.

The Celery task and the benchmark's in-process baseline both call ``DocumentScorer.score``, so the queue's
overhead is measured against exactly the same work. Models load lazily, once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from provenance.bundles import bundle_version
from provenance.settings import Settings
from provenance.signals import Signal, document_signal_names, signal_class, signal_names, signal_set

log = logging.getLogger(__name__)
# Machine-generated text leaning toxic is misuse even under the toxicity bundle's own threshold (a generator
# being used for abuse is what the platform must catch); ``provenance.review.evidence`` shows which rule fired.
MISUSE_MACHINE_P_TOXIC = 0.5


@dataclass
class DocumentResult:
    """Everything the verdict row stores about one document (PII offsets index ``redacted_text``)."""

    p_machine: float | None = None
    verdict: str = "abstain"
    margin: float | None = None
    detectors: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    num_tokens: int | None = None
    watermark: dict[str, Any] = field(default_factory=dict)
    redacted_text: str = ""
    pii: list[dict[str, Any]] = field(default_factory=list)
    toxicity: dict[str, Any] | None = None
    models: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None  # the ledger match (manifest id, kind, similarity), set at write time
    signals: dict[str, Any] = field(default_factory=dict)  # {name: record} of signals without named fields
    versions: dict[str, str | None] = field(default_factory=dict)  # {name: version} of every signal that scored

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
        return self.verdict == "machine" and float(self.toxicity.get("p_toxic") or 0.0) >= MISUSE_MACHINE_P_TOXIC

    def review(self, ledger_match: bool) -> tuple[bool, float]:
        """(needs review, priority): see ``review_priority``."""
        return review_priority(misuse=self.misuse, watermarked=self.watermarked, verdict=self.verdict,
                               p_machine=self.p_machine, margin=self.margin, pii_count=len(self.pii),
                               ledger_match=ledger_match)


def review_priority(*, misuse: bool, watermarked: bool, verdict: str, p_machine: float | None,
                    margin: float | None, pii_count: int, ledger_match: bool) -> tuple[bool, float]:
    """(needs review, priority): the sum of every registered signal's ``review_share`` (misuse 4, an
    unexplained watermark 3, uncertain verdicts 2-3, close machine calls 1.5, PII up to 1). A function of stored
    verdict columns, so a reader's view can be recomputed with *its own* ledger (``ledger_match``) instead of
    the whole ledger's answer the pipeline stored."""
    shares = review_shares(misuse=misuse, watermarked=watermarked, verdict=verdict, p_machine=p_machine,
                           margin=margin, pii_count=pii_count, ledger_match=ledger_match)
    priority = sum(shares.values())
    return priority > 0, round(priority, 4)


def review_shares(*, misuse: bool, watermarked: bool, verdict: str, p_machine: float | None,
                  margin: float | None, pii_count: int, ledger_match: bool) -> dict[str, float]:
    """Each registered signal's ``review_share`` of the priority, by signal name in registry order: the parts
    ``review_priority`` adds up, which the reviewer's item page shows as "why is this item in the queue"."""
    columns = {"misuse": misuse, "watermarked": watermarked, "verdict": verdict, "p_machine": p_machine,
               "margin": margin, "pii_count": pii_count, "ledger_match": ledger_match}
    return {name: float(signal_class(name).review_share(columns)) for name in signal_names()}


class DocumentScorer:
    """``score`` takes raw texts and returns one ``DocumentResult`` each, in order.

    The signals are taken from the process's ``SignalSet`` once, when the scorer is made, and kept: everything
    one scorer judges is judged by the same bundles, and ``version`` is the detection bundle those signals were
    built from (not a second read of the active bundle, which a promotion could move in between). The pipeline
    makes one scorer per chunk, right after claiming it, so a promotion reaches a worker at its next chunk and
    no chunk is judged half by one bundle and half by another."""

    def __init__(self, settings: Settings, names: tuple[str, ...] | None = None) -> None:
        self.settings = settings
        self.names = names if names is not None else document_signal_names()
        self.signals: dict[str, Signal] = signal_set(settings).document_signals(
            self.names, options={"watermark": {"evidence": True}})
        detection = self.signals.get("detection")
        self.version = detection.version if detection is not None else bundle_version(settings)

    def warm_up(self) -> None:
        """Load every model now (a worker does this at start, so the first task is not slow)."""
        self.score(["Warm-up text for the scanning pipeline, long enough to tokenise and score once."])

    def models(self) -> dict[str, Any]:
        """What produced the verdicts (stored with each): bundle, scorer identity, keys, toxicity version."""
        info: dict[str, Any] = {"bundle": self.version, "pii_operator": self.settings.pii_operator}
        signals = self.signals
        if "detection" in signals and (identity := signals["detection"].identity()) is not None:
            info["scorer"] = identity
        if "watermark" in signals and signals["watermark"].key_ids:
            info["watermark_keys"] = signals["watermark"].key_ids
        if "toxicity" in signals and signals["toxicity"].availability().available:
            info["toxicity"] = signals["toxicity"].version
        return info

    def score(self, texts: Sequence[str]) -> list[DocumentResult]:
        if not texts:
            return []
        documents = [DocumentResult(redacted_text=text) for text in texts]
        signals = self.signals
        by_signal = {name: signal.score(texts) for name, signal in signals.items()}
        versions = {name: signal.version for name, signal in signals.items()}
        for name, results in by_signal.items():
            for document, result in zip(documents, results, strict=True):
                fields = result.document_fields()
                for key, value in fields.items():  # the built-in signals' named fields (and columns)
                    setattr(document, key, value)
                if not fields:  # any other signal: its record is stored under its name
                    document.signals[name] = result.record()
                document.versions = versions
        if "pii" in by_signal and "watermark" in by_signal:  # evidence offsets onto the stored, redacted text
            from provenance.signals.watermark import move_evidence

            for document, redaction in zip(documents, by_signal["pii"], strict=True):
                if "evidence" in document.watermark:
                    document.watermark["evidence"] = move_evidence(document.watermark["evidence"],
                                                                   redaction.mapping)
        models = self.models()
        for document in documents:
            document.models = models
        return documents
