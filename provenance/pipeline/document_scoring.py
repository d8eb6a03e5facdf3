"""Score documents in-process: a loop over the registered document signals (detection ensemble, PII, toxicity
when a bundle exists, watermark with per-token evidence, and any signal registered beside them), each obtained
from the process's ``SignalSet``.

The Celery task and the benchmark's in-process baseline both call ``DocumentScorer.score``, so the queue's
overhead is measured against exactly the same work. Models load lazily, once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provenance.bundles import bundle_version
from provenance.settings import Settings
from provenance.signals import REGISTRY, Signal, document_signal_names, signal_class, signal_names, signal_set

log = logging.getLogger(__name__)
# Machine-generated text leaning toxic is misuse even under the toxicity bundle's own threshold (a generator
# being used for abuse is what the platform must catch); ``provenance.review.evidence`` shows which rule fired.
MISUSE_MACHINE_P_TOXIC = 0.5


@dataclass
class DocumentResult:
    """Everything one document's verdict stores: each signal's record (``signals[name]``) and version
    (``versions[name]``), what produced them (``models``), and the redacted text the document row keeps (PII
    offsets in the records index it). The verdict's indexed columns are copies out of these records
    (``verdict_fields``)."""

    redacted_text: str = ""
    records: dict[str, Any] = field(default_factory=dict)  # {name: record} of every signal that judged it
    versions: dict[str, str | None] = field(default_factory=dict)  # {name: version} of the same signals
    models: dict[str, Any] = field(default_factory=dict)


def indexed_columns(records: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict columns the signals declare (``indexed``: column -> key of the signal's record), copied out
    of their records: one loop for every signal. A missing value leaves the column's default (False, NULL)."""
    columns: dict[str, Any] = {}
    for name, record in records.items():
        if name not in REGISTRY or not isinstance(record, Mapping):
            continue
        for column, key in signal_class(name).indexed.items():
            if record.get(key) is not None:
                columns[column] = record[key]
    return columns


def is_misuse(records: Mapping[str, Any]) -> bool:
    """Toxic over the bundle's threshold, or judged machine-generated and toxic-leaning (p_toxic >= 0.5): the one
    column that reads two signals' records."""
    toxicity = records.get("toxicity")
    if not isinstance(toxicity, Mapping) or not toxicity:
        return False
    if toxicity.get("toxic"):
        return True
    detection = records.get("detection") if isinstance(records.get("detection"), Mapping) else {}
    return detection.get("verdict") == "machine" and float(toxicity.get("p_toxic") or 0.0) >= MISUSE_MACHINE_P_TOXIC


def verdict_fields(records: Mapping[str, Any], versions: Mapping[str, Any]) -> dict[str, Any]:
    """A verdict row's columns from its signals' records: ``signals`` and ``versions`` themselves, the indexed
    copies, ``misuse``, and the review flags computed from those columns (``review_priority``)."""
    columns = indexed_columns(records)
    misuse = is_misuse(records)
    needs_review, priority = review_priority(
        misuse=misuse, watermarked=bool(columns.get("watermarked")), verdict=columns.get("verdict", "abstain"),
        p_machine=columns.get("p_machine"), margin=columns.get("margin"),
        pii_count=int(columns.get("pii_count") or 0), ledger_match=columns.get("ledger_manifest_id") is not None)
    return {**columns, "misuse": misuse, "needs_review": needs_review, "review_priority": priority,
            "signals": dict(records), "versions": dict(versions)}


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
        signals = self.signals
        by_signal = {name: signal.score(texts) for name, signal in signals.items()}
        versions = {name: signal.version for name, signal in signals.items()}
        models = self.models()
        documents = []
        for index, text in enumerate(texts):
            records = {name: results[index].record() for name, results in by_signal.items()}
            documents.append(DocumentResult(text, records, dict(versions), models))
        if "pii" in by_signal:  # the document row keeps the redacted text
            for document, redaction in zip(documents, by_signal["pii"], strict=True):
                document.redacted_text = redaction.redacted_text
        if "pii" in by_signal and "watermark" in by_signal:  # evidence offsets onto the stored, redacted text
            from provenance.signals.watermark import move_evidence

            for document, redaction in zip(documents, by_signal["pii"], strict=True):
                watermark = document.records["watermark"]
                if "evidence" in watermark:
                    watermark["evidence"] = move_evidence(watermark["evidence"], redaction.mapping)
        return documents
