"""Span-level evaluation on presidio-research-format data (``full_text`` + ``spans`` with character offsets).

What "span-level" means here (the presidio-research ``SpanEvaluator`` scheme, character-based):

1. Labels are mapped to one vocabulary by ``LABEL_TABLE`` (dataset labels and engine labels alike). Labels
   mapped to ``None`` (job TITLE, name PREFIX such as "Mr.") are not PII: gold spans with them are dropped, and a
   prediction over them is an ordinary false positive unless it also matches real PII.
2. Spans are trimmed of surrounding whitespace/punctuation, then adjacent spans of the same category separated
   only by whitespace/punctuation are merged (an address annotated as "23", "8 Main Rd", "Suite 7" is one span).
   In the PII-vs-not pass every PII category counts as one, so merging crosses categories.
3. A gold span is a true positive when the predictions of its category (any PII prediction in the PII-vs-not
   pass) that overlap it cover it with intersection-over-union >= ``iou_threshold`` (0.5), counting characters
   that are not whitespace, the union of those predictions taken together. Otherwise it is a false negative.
4. Each prediction counts once: credited if it took part in a successful match, else a false positive.
   precision = credited / predicted, recall = TP / gold, F-beta with beta = 2 (recall weighs 4x precision).

Every system (ours, Presidio's defaults) is scored by this one function on the same data.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detect.pii.errors import PIIError

# One table for dataset labels (presidio-research generator) and engine labels (Presidio + ours).
# None = not PII. Anything not listed is evaluated under its own name.
LABEL_TABLE: dict[str, str | None] = {
    "PERSON": "PERSON", "PER": "PERSON", "FIRST_NAME": "PERSON", "LAST_NAME": "PERSON", "NAME": "PERSON",
    "LOCATION": "LOCATION", "GPE": "LOCATION", "LOC": "LOCATION", "CITY": "LOCATION", "COUNTRY": "LOCATION",
    "STATE": "LOCATION", "FAC": "LOCATION",
    "ADDRESS": "ADDRESS", "STREET_ADDRESS": "ADDRESS", "ZIP": "ADDRESS", "ZIP_CODE": "ADDRESS",
    "POSTAL_CODE": "ADDRESS", "BUILDING_NUMBER": "ADDRESS",
    "ORGANIZATION": "ORGANIZATION", "ORG": "ORGANIZATION",
    "DATE_TIME": "DATE_TIME", "DATE": "DATE_TIME", "TIME": "DATE_TIME", "BIRTHDAY": "DATE_TIME",
    "DATE_OF_BIRTH": "DATE_TIME",
    "NRP": "NRP", "NORP": "NRP", "NATIONALITY": "NRP",
    "PHONE_NUMBER": "PHONE_NUMBER", "PHONE": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS", "EMAIL": "EMAIL_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN_CODE", "IBAN": "IBAN_CODE",
    "US_SSN": "US_SSN", "SSN": "US_SSN", "US_ITIN": "US_ITIN", "US_BANK_NUMBER": "US_BANK_NUMBER",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE", "PASSPORT": "PASSPORT", "US_PASSPORT": "PASSPORT",
    "IP_ADDRESS": "IP_ADDRESS", "DOMAIN_NAME": "URL", "DOMAIN": "URL", "URL": "URL",
    "AGE": "AGE", "UK_NHS": "UK_NHS", "MEDICAL_LICENSE": "MEDICAL_LICENSE", "CRYPTO": "CRYPTO",
    "TITLE": None, "PREFIX": None, "O": None,
}

SKIP = set(" \t\r\n,.;:-/#()'\"")
PII = "PII"


def category(label: str) -> str | None:
    return LABEL_TABLE.get(label.upper(), label.upper())


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str


@dataclass
class Sample:
    text: str
    gold: list[Span]


@dataclass
class Counts:
    gold: int = 0
    tp: int = 0
    predicted: int = 0
    credited: int = 0

    def add(self, other: Counts) -> None:
        self.gold += other.gold
        self.tp += other.tp
        self.predicted += other.predicted
        self.credited += other.credited

    def scores(self, beta: float = 2.0) -> dict[str, Any]:
        precision = self.credited / self.predicted if self.predicted else (1.0 if not self.gold else 0.0)
        recall = self.tp / self.gold if self.gold else 1.0
        b2 = beta * beta
        denominator = b2 * precision + recall
        f = (1 + b2) * precision * recall / denominator if denominator else 0.0
        return {"precision": round(precision, 4), "recall": round(recall, 4), f"f{beta:g}": round(f, 4),
                "gold": self.gold, "true_positives": self.tp, "predicted": self.predicted,
                "false_positives": self.predicted - self.credited}


def load_presidio_json(path: Path | str, limit: int | None = None) -> list[Sample]:
    """presidio-research's generated JSON (a list of {full_text, spans[{entity_type, start_position, ...}]})."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PIIError(f"cannot read evaluation data {path}: {exc.__class__.__name__}: {exc}",
                       hint="pass a presidio-research JSON file: a list of {full_text, spans}") from None
    if not isinstance(raw, list):
        raise PIIError(f"{path} is not a JSON list", hint="pass a presidio-research JSON file: a list of samples")
    samples = []
    for index, item in enumerate(raw[:limit] if limit else raw):
        try:
            spans = [Span(int(s["start_position"]), int(s["end_position"]), str(s["entity_type"]))
                     for s in item.get("spans", [])]
            samples.append(Sample(str(item["full_text"]), spans))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise PIIError(f"sample {index} of {path} lacks full_text or well-formed spans",
                           hint="each sample needs full_text and spans with entity_type/start_position/"
                                "end_position") from None
    return samples


def _trim(text: str, span: Span) -> Span | None:
    start, end = max(0, span.start), min(len(text), span.end)
    while start < end and text[start] in SKIP:
        start += 1
    while end > start and text[end - 1] in SKIP:
        end -= 1
    return Span(start, end, span.label) if start < end else None


def _merge(text: str, spans: Iterable[Span]) -> list[Span]:
    """Adjacent or overlapping spans of one label, separated only by skip characters, become one span."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.label, s.start, s.end)):
        last = merged[-1] if merged else None
        if last and last.label == span.label and (span.start <= last.end or
                                                  all(c in SKIP for c in text[last.end:span.start])):
            merged[-1] = Span(last.start, max(last.end, span.end), last.label)
        else:
            merged.append(span)
    return merged


def _prepare(text: str, spans: Iterable[Span], collapse: bool) -> list[Span]:
    out = []
    for span in spans:
        cat = category(span.label)
        if cat is None:
            continue
        trimmed = _trim(text, Span(span.start, span.end, PII if collapse else cat))
        if trimmed:
            out.append(trimmed)
    return _merge(text, out)


def _chars(text: str, start: int, end: int) -> set[int]:
    return {i for i in range(start, end) if not text[i].isspace()}


def match_document(text: str, gold: Sequence[Span], predicted: Sequence[Span], collapse: bool,
                   iou_threshold: float = 0.5) -> dict[str, Counts]:
    """Counts per category (or one ``PII`` category when ``collapse``) for one document."""
    gold_spans = _prepare(text, gold, collapse)
    pred_spans = _prepare(text, predicted, collapse)
    counts: dict[str, Counts] = defaultdict(Counts)
    credited: set[int] = set()
    for g in gold_spans:
        counts[g.label].gold += 1
        overlapping = [i for i, p in enumerate(pred_spans)
                       if p.label == g.label and p.start < g.end and g.start < p.end]
        if not overlapping:
            continue
        gold_chars = _chars(text, g.start, g.end)
        pred_chars: set[int] = set()
        for i in overlapping:
            pred_chars |= _chars(text, pred_spans[i].start, pred_spans[i].end)
        union = gold_chars | pred_chars
        iou = len(gold_chars & pred_chars) / len(union) if union else 0.0
        if iou >= iou_threshold:
            counts[g.label].tp += 1
            credited.update(overlapping)
    for i, p in enumerate(pred_spans):
        counts[p.label].predicted += 1
        counts[p.label].credited += i in credited
    return counts


@dataclass
class EvaluationReport:
    pii: Counts = field(default_factory=Counts)
    per_type: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    documents: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "pii": self.pii.scores(),
                "per_type": {name: c.scores() for name, c in sorted(self.per_type.items())},
                "seconds": round(self.seconds, 3),
                "docs_per_s": round(self.documents / self.seconds, 1) if self.seconds else None}


def score(samples: Sequence[Sample], predictions: Sequence[Sequence[Span]], iou_threshold: float = 0.5,
          seconds: float = 0.0) -> EvaluationReport:
    """Aggregate span-level counts over documents (see module docstring for the rules)."""
    report = EvaluationReport(documents=len(samples), seconds=seconds)
    for sample, predicted in zip(samples, predictions, strict=True):
        for counts in match_document(sample.text, sample.gold, predicted, True, iou_threshold).values():
            report.pii.add(counts)
        for name, counts in match_document(sample.text, sample.gold, predicted, False, iou_threshold).items():
            report.per_type[name].add(counts)
    return report


def evaluate(samples: Sequence[Sample], analyze: Callable[[list[str]], list[list[Span]]],
             iou_threshold: float = 0.5) -> EvaluationReport:
    """Time ``analyze`` on all texts at once (so batching systems may batch) and score its spans."""
    texts = [s.text for s in samples]
    started = time.perf_counter()
    predictions = analyze(texts)
    seconds = time.perf_counter() - started
    return score(samples, predictions, iou_threshold, seconds)
