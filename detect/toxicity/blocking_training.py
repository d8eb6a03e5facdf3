"""Fit the blocking stage and calibrate its thresholds on benign text of many genres.

Why separate from ``training``: the first stage is main's recipe unchanged (n-grams + cues, cross-validated);
this module adds the second stage on top of it. Its training rows are the labelled rows with their
*out-of-fold* first-stage scores (so the stage learns how far to trust ``p_toxic`` on text the first stage
has not seen) plus the hand-written hard cases, scored by a first stage that never trained on them (the
shipped one trains on ``first_stage_cases``, which include them: scored by it, the hard cases' ``p_toxic``
is near 0 or 1, the stage learns to trust ``p_toxic`` blindly, and benign fiction with a high ``p_toxic``
then sets a 0.98 ``hate`` threshold that blocked 5% of the suite's must-block cases instead of 26%).
Calibration scores whole benign passages exactly as scoring does (windows, max per category).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from detect.toxicity.benign import BenignPassage
from detect.toxicity.blocking import BlockingStage, calibrate, dense_features, fit_stage
from detect.toxicity.context import text_context
from detect.toxicity.hard_cases import HardCase, hard_cases
from detect.toxicity.normalize import normalize_toxicity

CALIBRATION_BATCH = 256


def stage_training_set(texts: Sequence[str], oof: np.ndarray, category_sets: Sequence[tuple[str, ...]],
                       first_stage: Any, cases: Sequence[HardCase], raw_texts: Sequence[str] | None = None,
                       case_scorer: Callable[[list[str]], np.ndarray] | None = None,
                       ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Dense matrix and per-category targets: labelled rows (out-of-fold scores) + hard cases. ``raw_texts``
    (the rows before normalisation) give the quotation context; without them the rows get none.
    ``case_scorer`` scores the hard cases with a first stage that never trained on them (the shipped first
    stage trains on the first-stage cases, which include the hard cases); default: ``first_stage``."""
    case_texts = [normalize_toxicity(case.text).text for case in cases]
    if not case_texts:
        case_p = np.zeros(0)
    else:
        case_p = case_scorer(case_texts) if case_scorer else first_stage.probabilities(case_texts)[0]
    all_texts = list(texts) + case_texts
    p = np.concatenate([np.asarray(oof, dtype=np.float64), case_p])
    raws = list(raw_texts) if raw_texts is not None else [""] * len(texts)
    contexts = text_context(raws + [case.text for case in cases])
    matrix = dense_features(all_texts, p, first_stage.threshold, contexts)
    hate = np.array([("hate" in row) for row in category_sets] + [case.hate for case in cases], dtype=np.int64)
    threat = np.array([0] * len(texts) + [case.threat for case in cases], dtype=np.int64)
    return matrix, {"hate": hate, "threat": threat}


def train_stage(texts: Sequence[str], oof: np.ndarray, category_sets: Sequence[tuple[str, ...]], first_stage: Any,
                *, exclude_family: str | None = None, raw_texts: Sequence[str] | None = None,
                case_scorer: Callable[[list[str]], np.ndarray] | None = None) -> BlockingStage:
    cases = hard_cases(exclude_family)
    matrix, targets = stage_training_set(texts, oof, category_sets, first_stage, cases, raw_texts, case_scorer)
    return fit_stage(matrix, targets, gate=first_stage.threshold)


def passage_block_scores(model: Any, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Per category, the max-window blocking score of each text (no threshold applied)."""
    per: dict[str, list[float]] = {}
    for start in range(0, len(texts), CALIBRATION_BATCH):
        for result in model.score(list(texts[start:start + CALIBRATION_BATCH]), block_categories=()):
            for name, value in result.block_scores.items():
                per.setdefault(name, []).append(value)
    return {name: np.asarray(values) for name, values in per.items()}


def calibrate_on_passages(model: Any, passages: Sequence[BenignPassage], block_fpr: float) -> dict[str, int]:
    """Set ``model.blocking`` thresholds at ``block_fpr`` in every genre of ``passages``; returns genre sizes."""
    genres = sorted({p.genre for p in passages})
    by_category: dict[str, dict[str, np.ndarray]] = {}
    for genre in genres:
        scores = passage_block_scores(model, [p.text for p in passages if p.genre == genre])
        for name, values in scores.items():
            by_category.setdefault(name, {})[genre] = values
    calibrate(model.blocking, by_category, block_fpr)
    return {genre: sum(p.genre == genre for p in passages) for genre in genres}
