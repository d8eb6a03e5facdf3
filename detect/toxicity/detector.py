"""The toxicity model behind the platform's one detector interface (``detect.base.Detector``).

Why: the scanning ensemble runs detectors by name over a ``DetectionBatch`` and only sees named score arrays,
so toxicity joins it like any other detector. Its scores are *not* machine-likeness: the ensemble must not
stack ``p_toxic`` into P(machine); the pipeline reads it beside the verdict (``misuse`` flag).
"""

from __future__ import annotations

import numpy as np

from detect.base import DetectionBatch, DetectorOutput
from detect.toxicity.model import ToxicityModel


class ToxicityDetector:
    """``p_toxic`` per text; diagnostics carry ``toxic``, ``categories``, ``category_scores`` and ``note``."""

    name = "toxicity"
    requires: tuple[str, ...] = ()

    def __init__(self, model: ToxicityModel) -> None:
        self.model = model

    def score(self, batch: DetectionBatch) -> DetectorOutput:
        # Raw texts: toxicity normalisation needs the original (mentions, leetspeak), not detection's version.
        results = self.model.score(batch.raw_texts, blocking=False)  # scanning flags; blocking is generation's
        diagnostics = [{"toxic": r.toxic, "categories": r.categories,
                        "category_scores": {k: round(v, 6) for k, v in r.category_scores.items()}, "note": r.note}
                       for r in results]
        scores = np.array([r.p_toxic for r in results], dtype=np.float64)
        return DetectorOutput(detector=self.name, scores={"p_toxic": scores}, diagnostics=diagnostics)
