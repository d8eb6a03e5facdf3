"""The one interface every machine-text detector implements.

A detector takes a batch of texts and returns named score arrays (higher = more machine-like) plus
per-text diagnostics. Detectors may read the outputs of detectors that ran before them in the same batch
(the classifier reads the perplexity statistics), through ``DetectionBatch.outputs``; the ensemble only
sees names and arrays, never a detector's internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from detect.text import normalize_for_detection


@dataclass
class DetectorOutput:
    """Scores of one detector for one batch: each array has one float per text (NaN = not judged)."""

    detector: str
    scores: dict[str, np.ndarray]
    diagnostics: list[dict[str, Any]]

    def primary(self) -> np.ndarray:
        return next(iter(self.scores.values()))


@dataclass
class DetectionBatch:
    """Texts (raw and normalised) and the outputs of the detectors that already ran on them."""

    raw_texts: list[str]
    texts: list[str] = field(default_factory=list)
    outputs: dict[str, DetectorOutput] = field(default_factory=dict)

    @classmethod
    def of(cls, texts: Sequence[str]) -> DetectionBatch:
        raw = list(texts)
        return cls(raw_texts=raw, texts=[normalize_for_detection(text) for text in raw])

    def __len__(self) -> int:
        return len(self.texts)


@runtime_checkable
class Detector(Protocol):
    """Texts in, scores out. ``name`` keys the output; ``requires`` lists detectors that must run first."""

    name: str
    requires: tuple[str, ...]

    def score(self, batch: DetectionBatch) -> DetectorOutput: ...


def run_detectors(detectors: Sequence[Detector], batch: DetectionBatch) -> DetectionBatch:
    """Run detectors in order, each seeing the outputs of those before it."""
    for detector in detectors:
        missing = [name for name in detector.requires if name not in batch.outputs]
        if missing:
            raise ValueError(f"detector {detector.name!r} needs {missing} to run before it")
        batch.outputs[detector.name] = detector.score(batch)
    return batch
