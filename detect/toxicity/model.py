"""The fitted toxicity model and its scoring rules (notes, long texts, categories).

Why a wrapper around the scikit-learn objects: the platform needs more than a probability per text. Empty
or emoji-only texts, huge texts and non-English texts must get a score *and* a note saying how far to trust
it, never a crash; long texts are scored in windows and the most toxic window counts (one abusive paragraph
in a long post is enough); and each toxic text is given categories ("hate", "offensive", ...).

``p_toxic`` is a class-balanced logistic score: it assumes equal prior odds of toxic and non-toxic, so it
ranks texts but is not the base-rate probability of any particular stream. ``toxic`` compares it with the
bundle's threshold, chosen on cross-validated scores at a target false-positive rate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from detect.toxicity.blocking import BLOCKING_CATEGORIES
from detect.toxicity.context import window_context
from detect.toxicity.normalize import Normalized, normalize_toxicity
from detect.toxicity.thresholds import benign_threshold

MAX_CHARS = 200_000  # longer inputs are scored on their first MAX_CHARS characters (and say so)
# Texts longer than WINDOW_WORDS are scored in half-overlapping windows of that many words and the most toxic
# window counts: training texts are tweets and sentences, and a long text would dilute one abusive sentence.
WINDOW_WORDS = 32
WINDOW_STRIDE = 16
MIN_LETTERS_FOR_SCRIPT_CHECK = 12
_FUNCTION_WORDS_TEXT = (
    "the a an and or but of to in on at for with is are was were be been it this that i you he she we they "
    "not no my your his her our their me him them what who so if as by from do does did have has had"
)
_ENGLISH_FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())


@dataclass
class ToxicityScore:
    p_toxic: float
    toxic: bool
    categories: list[str]
    category_scores: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    # True: a blocking category reached its threshold (a generation like this is withheld); None: not decided
    # (the scan path, ``blocking=False``)
    blocked: bool | None = False
    block_scores: dict[str, float] = field(default_factory=dict)  # per blocking-capable category (max window)
    block_reason: dict[str, Any] | None = None  # {"category", "score", "threshold"} of the category that blocked

    def as_dict(self) -> dict[str, Any]:
        """The service contract: ``{"p_toxic", "toxic", "categories", "note", "blocked", "block_reason"}``."""
        return {"p_toxic": round(self.p_toxic, 6), "toxic": self.toxic, "categories": list(self.categories),
                "note": self.note, "blocked": self.blocked, "block_reason": self.block_reason}


@dataclass
class ToxicityModel:
    """Features + toxic/non-toxic classifier + one classifier per category, and the decision threshold."""

    features: Pipeline
    classifier: LogisticRegression
    category_heads: dict[str, LogisticRegression]
    threshold: float  # scan: flag for review at the target FPR
    block_threshold: float | None = None  # generation screen: withhold at the (stricter) blocking FPR
    block_fpr: float | None = None
    benign_scores: dict[str, np.ndarray] | None = None  # out-of-fold benign scores, to serve another block FPR
    blocking: Any = None  # ``blocking.BlockingStage``: per-category blocking (None in bundles made before it)

    def blocking_threshold(self, block_fpr: float | None = None) -> float:
        """The threshold that withholds a generation: the trained one, or recomputed for ``block_fpr`` from the
        stored out-of-fold benign scores; never below the scan threshold. Bundles older than the blocking
        threshold block at the scan threshold."""
        trained = getattr(self, "block_threshold", None)
        benign = getattr(self, "benign_scores", None)
        if block_fpr is not None and benign and block_fpr != getattr(self, "block_fpr", None):
            return max(benign_threshold(benign, block_fpr), self.threshold)
        return self.threshold if trained is None else max(float(trained), self.threshold)

    def probabilities(self, features_texts: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """P(toxic) and P(category) for already-normalised texts."""
        if not features_texts:
            return np.zeros(0), {name: np.zeros(0) for name in self.category_heads}
        matrix = self.features.transform(list(features_texts))
        p = self.classifier.predict_proba(matrix)[:, 1]
        return p, {name: head.predict_proba(matrix)[:, 1] for name, head in self.category_heads.items()}

    def score(self, texts: Sequence[str], *, block_threshold: float | None = None,
              block_categories: Sequence[str] | None = None, block_fpr: float | None = None,
              blocking: bool = True) -> list[ToxicityScore]:
        """Score raw texts; every text gets a result (see the module docstring for the rules).

        With a blocking stage, ``blocked`` means a category in ``block_categories`` (default
        ``blocking.BLOCKING_CATEGORIES``) scored at or over its own threshold (at ``block_fpr``, default the
        trained one). Without one (older bundles), ``blocked`` is ``p_toxic >= block_threshold`` (default
        the trained blocking threshold). ``blocking=False`` (the scan path: flag only) skips the second stage
        and its parse: ``blocked`` is then None (not decided) and categories come from the first stage."""
        plans: list[tuple[list[int], str | None]] = []  # window indices per text, note
        windows: list[str] = []
        contexts: list[tuple[float, float]] = []  # per window: quotation context from the raw text (blocking)
        for raw in texts:
            note = None
            if not isinstance(raw, str):
                plans.append(([], "not a string: nothing scored"))
                continue
            if len(raw) > MAX_CHARS:
                raw = raw[:MAX_CHARS]
                note = f"text over {MAX_CHARS:,} characters: scored its first {MAX_CHARS:,}"
            normalized = normalize_toxicity(raw)
            if not normalized.text:
                plans.append(([], "no words to score (empty, emoji or symbols only): scored as non-toxic"))
                continue
            note = _join_notes(note, _language_note(normalized))
            words = normalized.text.split(" ")
            indices = []
            last_start = max(len(words) - WINDOW_WORDS, 0)
            starts = list(range(0, last_start, WINDOW_STRIDE)) + [last_start]
            for start in starts:
                indices.append(len(windows))
                windows.append(" ".join(words[start:start + WINDOW_WORDS]))
            if blocking:
                contexts.extend(window_context(raw, len(words), starts, WINDOW_WORDS))
            if len(indices) > 1:
                note = _join_notes(note, f"long text: the most toxic of {len(indices)} windows counts")
            plans.append((indices, note))
        p, per_category = self.probabilities(windows)
        stage = getattr(self, "blocking", None)
        if not blocking:
            results = [self._combine(indices, note, p, per_category, block=np.inf) for indices, note in plans]
            for result in results:
                result.blocked = None
            return results
        if stage is None:
            block = self.blocking_threshold() if block_threshold is None else block_threshold
            return [self._combine(indices, note, p, per_category, block) for indices, note in plans]
        stage_scores = stage.scores(windows, p, contexts)
        if "offensive" in per_category:  # opt-in blocking of offensive language: toxic and offensive at once
            stage_scores["offensive"] = p * per_category["offensive"]
        chosen = tuple(BLOCKING_CATEGORIES if block_categories is None else block_categories)
        thresholds = {name: stage.threshold_for(name, block_fpr) for name in chosen if name in stage_scores}
        return [self._combine_staged(indices, note, p, per_category, stage_scores, thresholds)
                for indices, note in plans]

    def _combine(self, indices: list[int], note: str | None, p: np.ndarray,
                 per_category: dict[str, np.ndarray], block: float) -> ToxicityScore:
        if not indices:
            return ToxicityScore(0.0, False, [], {}, note)
        best = indices[int(np.argmax(p[indices]))]
        p_toxic = float(p[best])
        category_scores = {name: float(values[best]) for name, values in per_category.items()}
        toxic = p_toxic >= self.threshold
        categories: list[str] = []
        if toxic and category_scores:
            categories = sorted(name for name, value in category_scores.items() if value >= 0.5)
            categories = categories or [max(category_scores, key=category_scores.__getitem__)]
        blocked = p_toxic >= block
        reason = {"category": "toxic", "score": round(p_toxic, 6), "threshold": round(block, 6)} if blocked else None
        return ToxicityScore(p_toxic, toxic, categories, category_scores, note, blocked=blocked, block_reason=reason)

    def _combine_staged(self, indices: list[int], note: str | None, p: np.ndarray,
                        per_category: dict[str, np.ndarray], stage_scores: dict[str, np.ndarray],
                        thresholds: dict[str, float]) -> ToxicityScore:
        """Scan flag from the first stage; blocking per category from the second (max over windows each)."""
        if not indices:
            return ToxicityScore(0.0, False, [], {}, note)
        result = self._combine(indices, note, p, per_category, block=np.inf)
        block_scores = {name: float(np.max(values[indices])) for name, values in stage_scores.items()}
        over = {name: block_scores[name] for name, limit in thresholds.items() if block_scores[name] >= limit}
        result.block_scores = block_scores
        flagged = [name for name in ("hate", "threat") if block_scores.get(name, 0.0) >= 0.5]
        if over:
            name = max(over, key=lambda key: over[key] - thresholds[key])
            result.blocked = True
            result.block_reason = {"category": name, "score": round(over[name], 6),
                                   "threshold": round(thresholds[name], 6)}
            flagged = sorted(set(flagged) | set(over))
        if result.blocked or (flagged and result.toxic):
            result.toxic = True
            result.categories = sorted(set(result.categories) | set(flagged))
        return result

def _join_notes(first: str | None, second: str | None) -> str | None:
    return "; ".join(part for part in (first, second) if part) or None


def _language_note(normalized: Normalized) -> str | None:
    """Warn when the text is probably not English (the model was trained on English only)."""
    if normalized.letters >= MIN_LETTERS_FOR_SCRIPT_CHECK and normalized.latin_share < 0.5:
        return "mostly non-Latin script: the model was trained on English, the score is unreliable"
    words = re.findall(r"[a-z]+", normalized.text)
    if len(words) >= 8 and sum(word in _ENGLISH_FUNCTION_WORDS for word in words) / len(words) < 0.08:
        return "few English function words: possibly not English, the score is unreliable"
    return None
