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

5. Per type (``per_type``): recall per *gold* (dataset) label and false positives per *predicted* (engine) label,
   both read off the PII-vs-not pass, so a regression on one type is visible whichever type name it got;
   ``per_category`` keeps the typed pass (a span counts only under its own category).

Gold offsets are checked on load: a span out of range or overlapping another is an error naming the sample.
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
        check_gold(samples[-1], f"sample {index} of {path}")
    return samples


def check_gold(sample: Sample, where: str) -> None:
    """Gold spans must lie inside the text and must not overlap: otherwise the scores would be meaningless."""
    length = len(sample.text)
    for span in sample.gold:
        if not 0 <= span.start < span.end <= length:
            raise PIIError(f"{where}: gold span {span.label} [{span.start}:{span.end}] is out of range "
                           f"(text has {length} characters)",
                           hint="start_position < end_position <= len(full_text), Python character offsets")
    ordered = sorted(sample.gold, key=lambda s: (s.start, s.end))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start < before.end:
            raise PIIError(f"{where}: gold spans {before.label} [{before.start}:{before.end}] and "
                           f"{after.label} [{after.start}:{after.end}] overlap",
                           hint="annotate each character at most once (split or merge the overlapping spans)")


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


def _match(text: str, gold_spans: Sequence[Span], pred_spans: Sequence[Span],
           iou_threshold: float) -> tuple[set[int], set[int]]:
    """(indices of gold spans found, indices of predictions credited) for prepared spans of one document."""
    found: set[int] = set()
    credited: set[int] = set()
    for index, g in enumerate(gold_spans):
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
            found.add(index)
            credited.update(overlapping)
    return found, credited


def match_document(text: str, gold: Sequence[Span], predicted: Sequence[Span], collapse: bool,
                   iou_threshold: float = 0.5) -> dict[str, Counts]:
    """Counts per category (or one ``PII`` category when ``collapse``) for one document."""
    gold_spans = _prepare(text, gold, collapse)
    pred_spans = _prepare(text, predicted, collapse)
    found, credited = _match(text, gold_spans, pred_spans, iou_threshold)
    counts: dict[str, Counts] = defaultdict(Counts)
    for i, g in enumerate(gold_spans):
        counts[g.label].gold += 1
        counts[g.label].tp += i in found
    for i, p in enumerate(pred_spans):
        counts[p.label].predicted += 1
        counts[p.label].credited += i in credited
    return counts


def _containing(spans: Sequence[Span], span: Span) -> int | None:
    for index, candidate in enumerate(spans):
        if candidate.start <= span.start and span.end <= candidate.end:
            return index
    return None


def type_breakdown(text: str, gold: Sequence[Span], predicted: Sequence[Span], iou_threshold: float = 0.5
                   ) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per gold label ``[gold, found]`` and per predicted label ``[predicted, false positives]``, PII vs not.

    A gold span (under its dataset label, e.g. ZIP) is found when the merged PII span holding it is found by
    the PII-vs-not pass; a prediction (under its engine label) is a false positive when the merged prediction
    holding it was not credited. A gold span of a label that is not PII (TITLE) is found when PII predictions
    cover it with IoU >= the threshold: how much non-PII text the engine redacts.
    """
    gold_spans = _prepare(text, gold, True)
    pred_spans = _prepare(text, predicted, True)
    found, credited = _match(text, gold_spans, pred_spans, iou_threshold)
    by_gold: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for span in gold:
        label = span.label.upper()
        trimmed = _trim(text, Span(span.start, span.end, PII))
        if trimmed is None:
            continue
        by_gold[label][0] += 1
        if category(label) is None:
            hit, _ = _match(text, [trimmed], pred_spans, iou_threshold)
            by_gold[label][1] += bool(hit)
            continue
        index = _containing(gold_spans, trimmed)
        by_gold[label][1] += index is not None and index in found
    by_predicted: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for span in predicted:
        if category(span.label) is None:
            continue
        trimmed = _trim(text, Span(span.start, span.end, PII))
        if trimmed is None:
            continue
        label = span.label.upper()
        by_predicted[label][0] += 1
        index = _containing(pred_spans, trimmed)
        by_predicted[label][1] += index is None or index not in credited
    return by_gold, by_predicted


@dataclass
class EvaluationReport:
    pii: Counts = field(default_factory=Counts)
    per_category: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    gold_types: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    predicted_types: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    documents: int = 0
    seconds: float = 0.0

    def per_type(self) -> dict[str, Any]:
        """Recall per gold (dataset) type and false positives per predicted (engine) type, PII vs not."""
        recall = {name: {"gold": g, "found": f, "recall": round(f / g, 4) if g else None,
                         "pii": category(name) is not None}
                  for name, (g, f) in sorted(self.gold_types.items())}
        false_positives = {name: {"predicted": n, "false_positives": fp,
                                  "precision": round((n - fp) / n, 4) if n else None}
                           for name, (n, fp) in sorted(self.predicted_types.items())}
        return {"recall": recall, "false_positives": false_positives}

    def to_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "pii": self.pii.scores(), "per_type": self.per_type(),
                "per_category": {name: c.scores() for name, c in sorted(self.per_category.items())},
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
            report.per_category[name].add(counts)
        by_gold, by_predicted = type_breakdown(sample.text, sample.gold, predicted, iou_threshold)
        for name, (total, hit) in by_gold.items():
            report.gold_types[name][0] += total
            report.gold_types[name][1] += hit
        for name, (total, wrong) in by_predicted.items():
            report.predicted_types[name][0] += total
            report.predicted_types[name][1] += wrong
    return report


def evaluate(samples: Sequence[Sample], analyze: Callable[[list[str]], list[list[Span]]],
             iou_threshold: float = 0.5) -> EvaluationReport:
    """Time ``analyze`` on all texts at once (so batching systems may batch) and score its spans."""
    texts = [s.text for s in samples]
    started = time.perf_counter()
    predictions = analyze(texts)
    seconds = time.perf_counter() - started
    return score(samples, predictions, iou_threshold, seconds)
