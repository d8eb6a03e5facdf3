"""The benign-calibrated threshold both toxicity stages use (its own module: the model and the blocking stage
each need it, and neither may import the other's module for it without a cycle)."""

from __future__ import annotations

import numpy as np


def benign_threshold(benign: dict[str, np.ndarray], target_fpr: float) -> float:
    """Smallest threshold whose false-positive rate on *every* benign score set is at most ``target_fpr``."""
    candidates = [0.0]
    for values in benign.values():
        ordered = np.sort(np.asarray(values, dtype=np.float64))[::-1]
        allowed = int(np.floor(target_fpr * ordered.size + 1e-9))
        if allowed < ordered.size:
            candidates.append(float(np.nextafter(ordered[allowed], np.inf)))
    return max(candidates)
