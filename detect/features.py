"""Feature extraction for the trained classifier: stylometry and hashed n-grams (no fitted vocabulary).

Stylometric features are ratios and rates, never raw counts, so they do not simply learn text length.
N-grams are hashed (``HashingVectorizer``) so a bundle carries no vocabulary and needs no fitting pass;
an IDF weighting is learned from the training data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[A-Za-z\u00C0-\u024F']+|\d+(?:[.,]\d+)*")
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_FUNCTION_WORDS = frozenset(re.findall(r"\S+", """
    the a an and or but of to in on at for with by from as is was were are be been being it its this that
    these those he she they we you i his her their our my your not no so if then than there which who whom
    what when where while because about into over after before also just very can could would should will
    may might must has have had do does did"""))
_MATTR_WINDOW = 50

STYLOMETRIC_FEATURES = (
    "mean_word_length", "std_word_length", "mattr", "hapax_ratio", "function_word_ratio",
    "mean_sentence_words", "std_sentence_words", "comma_rate", "period_rate", "quote_rate", "colon_rate",
    "paren_rate", "dash_rate", "digit_ratio", "upper_word_ratio", "repeated_bigram_ratio",
    "repeated_trigram_ratio", "long_word_ratio",
)


def _mattr(words: list[str], window: int = _MATTR_WINDOW) -> float:
    """Moving-average type-token ratio: vocabulary richness that does not shrink with length."""
    if not words:
        return 0.0
    if len(words) <= window:
        return len(set(words)) / len(words)
    ratios = []
    counts = Counter(words[:window])
    ratios.append(len(counts) / window)
    for i in range(window, len(words)):
        counts[words[i]] += 1
        counts[words[i - window]] -= 1
        if counts[words[i - window]] == 0:
            del counts[words[i - window]]
        ratios.append(len(counts) / window)
    return float(np.mean(ratios))


def _repeated_ngram_ratio(words: list[str], n: int) -> float:
    grams = [tuple(words[i: i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    counts = Counter(grams)
    return sum(c for c in counts.values() if c > 1) / len(grams)


def stylometric_vector(text: str) -> np.ndarray:
    """One row of ``STYLOMETRIC_FEATURES`` for a normalised text."""
    words = _WORD.findall(text)
    lower = [w.lower() for w in words]
    n_words = max(len(words), 1)
    lengths = np.array([len(w) for w in words], dtype=np.float64) if words else np.zeros(1)
    sentences = [s for s in _SENTENCE.split(text) if s.strip()]
    sentence_words = np.array([len(_WORD.findall(s)) for s in sentences] or [0], dtype=np.float64)
    counts = Counter(lower)
    chars = max(len(text), 1)
    row = {
        "mean_word_length": float(lengths.mean()),
        "std_word_length": float(lengths.std()),
        "mattr": _mattr(lower),
        "hapax_ratio": sum(1 for c in counts.values() if c == 1) / n_words,
        "function_word_ratio": sum(1 for w in lower if w in _FUNCTION_WORDS) / n_words,
        "mean_sentence_words": float(sentence_words.mean()),
        "std_sentence_words": float(sentence_words.std()),
        "comma_rate": text.count(",") / n_words,
        "period_rate": text.count(".") / n_words,
        "quote_rate": (text.count('"') + text.count("\u201c") + text.count("\u201d")) / n_words,
        "colon_rate": (text.count(":") + text.count(";")) / n_words,
        "paren_rate": (text.count("(") + text.count(")")) / n_words,
        "dash_rate": (text.count("-") + text.count("\u2013") + text.count("\u2014")) / n_words,
        "digit_ratio": sum(ch.isdigit() for ch in text) / chars,
        "upper_word_ratio": sum(1 for w in words if w[:1].isupper()) / n_words,
        "repeated_bigram_ratio": _repeated_ngram_ratio(lower, 2),
        "repeated_trigram_ratio": _repeated_ngram_ratio(lower, 3),
        "long_word_ratio": float((lengths >= 9).mean()),
    }
    return np.array([row[name] for name in STYLOMETRIC_FEATURES], dtype=np.float64)


def stylometric_matrix(texts: Sequence[str]) -> np.ndarray:
    return np.vstack([stylometric_vector(text) for text in texts]) if texts else np.zeros(
        (0, len(STYLOMETRIC_FEATURES)))
