"""Memorisation guard: which words of a text the scorer was trained on, and what that does to the verdict.

A perplexity detector calls text "machine" when the scorer finds it unusually predictable. Text the scorer
was *trained on* (a public-domain novel, a Wikipedia article, a quoted constitution) is predictable for a
different reason: the scorer memorised it. So the guard finds the words of a text that lie in word 8-grams of
the scorer's training text (``generator.ngram_index``: a Bloom filter its trainer wrote, checked against its
card by ``detect.ngram_index`` before use) and never lets them decide the verdict:

* When at least ``REMAINDER_SHARE`` of the words are covered, the covered spans are set aside and the *unseen
  remainder* (the uncovered spans, joined) is judged by the same scorer and ensemble (``detect.scoring``). A
  remainder long enough to judge decides the verdict and P(machine): a quotation inside machine text does not
  clear it (``machine``, with the reason that a passage was set aside), and a quotation inside human writing
  does not condemn it. The full-text P(machine) stays in ``detectors["p_machine_full_text"]``.
  A remainder judged human yields ``human`` only while most of the text is unseen (covered share under
  ``SEEN_FRACTION``), else ``uncertain``.
* A remainder too short to judge (a fully memorised paragraph) leaves nothing to weigh: the verdict becomes
  ``uncertain`` with ``MEMORISED_REASON`` and the covered share, so a reviewer sees it (and P(machine) stays
  the full text's, which the reason says). The guard never turns a verdict ``human`` because the scorer knew
  the text.
* Below that share (or without an index) only the model-free signal applies: a run of ``certain_run``
  near-certain tokens turns ``machine`` into ``uncertain``.

The index lives beside the model (``<model dir>/training-ngrams.bloom`` when the platform trained the model;
for a model the platform did not train, ``<home>/models/memorisation/<weights sha256>.bloom``, built from a
corpus by ``provenance model memorisation-index`` and by ``make demo``). ``corpus_documents`` rebuilds the
training documents of ``../shared/models/gpt2-corpus-27m`` exactly as its README says (and which of them were
held out), so the index and the held-out evaluation agree.

This module builds nothing from settings: finding the configured model and the home is the application's job
(``provenance.memorisation``), so ``detect`` never imports ``provenance``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detect.errors import DetectionError
from detect.ngram_index import REBUILD_HINT, UncardedIndexError, load_verified
from generator.ngram_index import (
    INDEX_FILE,
    MIN_NGRAMS,
    NGRAM,
    BloomIndex,
    word_ngram_hashes,
    word_spans,
)

__all__ = ["INDEX_FILE", "MEMORISED_REASON", "Coverage", "MemorisationGuard", "corpus_documents",
           "corpus_paragraphs", "home_index_path", "index_path_for"]  # the index itself: generator.ngram_index

MIN_HIT_RUN = 3  # consecutive indexed 8-grams (a 10-word shared passage) before words count as covered
REMAINDER_SHARE = 0.2  # share of a text's words in indexed 8-grams from which the remainder is judged alone
SEEN_FRACTION = 0.5  # covered share from which a human remainder still gives `uncertain` (mostly trained-on)
MEMORISED_REASON = "the scorer was trained on this text (quoted or public text)"
SET_ASIDE_REASON = "a passage the scorer was trained on (quoted or public text) was set aside"
CERTAIN_RUN_TOKENS = 24  # model-free signal: this many consecutive near-certain tokens (p >= 0.9) in a row


@dataclass(frozen=True)
class Coverage:
    """Where a text meets the index: ``overlap`` = share of its 8-grams found, ``covered`` = share of its words
    inside a found 8-gram that belongs to a run of ``MIN_HIT_RUN`` found 8-grams, ``remainder`` = the uncovered
    spans joined by spaces (what the scorer never saw)."""

    overlap: float
    covered: float
    remainder: str
    remainder_words: int

    @property
    def triggered(self) -> bool:
        return self.covered >= REMAINDER_SHARE


def coverage_of(index: BloomIndex, text: str) -> Coverage | None:
    """The text's coverage by the index (None when the text has fewer than ``MIN_NGRAMS`` 8-grams)."""
    spans = word_spans(text)
    tokens = [text[start:end].lower().replace("’", "'") for start, end in spans]
    hashes = word_ngram_hashes(tokens, index.ngram)
    if len(hashes) < MIN_NGRAMS:
        return None
    hits = index.contains(hashes)
    # word w is covered when a kept hit n-gram starting at w-n+1 .. w contains it
    kept = _in_long_runs(hits, MIN_HIT_RUN)
    covered = np.convolve(kept.astype(np.int64), np.ones(index.ngram, dtype=np.int64))[: len(tokens)] > 0
    pieces, i = [], 0
    while i < len(tokens):
        if covered[i]:
            i += 1
            continue
        j = i
        while j < len(tokens) and not covered[j]:
            j += 1
        start = 0 if i == 0 else spans[i][0]
        end = len(text) if j == len(tokens) else spans[j][0]
        pieces.append(text[start:end].strip())
        i = j
    return Coverage(float(hits.mean()), float(covered.mean()), " ".join(p for p in pieces if p),
                    int((~covered).sum()))


def _in_long_runs(hits: np.ndarray, min_run: int) -> np.ndarray:
    """``hits`` with runs of fewer than ``min_run`` consecutive hits cleared. An isolated hit is a common
    8-word phrase or one of the filter's false hits (~0.8% of 8-grams at half fill): with 40-word texts one
    such hit would cover 20% of the words. A shared passage of ``min_run + 7`` words or more is kept."""
    kept = hits.copy()
    start = None
    for i, hit in enumerate([*hits.tolist(), False]):
        if hit and start is None:
            start = i
        elif not hit and start is not None:
            if i - start < min_run:
                kept[start:i] = False
            start = None
    return kept


@dataclass
class MemorisationGuard:
    """Keeps text the scorer was trained on from deciding a verdict (see the module docstring)."""

    index: BloomIndex | None = None
    certain_run_tokens: int = CERTAIN_RUN_TOKENS

    @classmethod
    def for_scorer(cls, model_path: Path | None, weights_sha256: str | None, home: Path | None, *,
                   verify: Callable[[Path], None] | None = None) -> MemorisationGuard:
        """The guard with the scorer's index, verified (``detect.ngram_index.load_verified``, with ``verify``: the
        application's signature check; a tampered, badly signed or saturated index raises ``DetectionError``), or
        the model-free guard when there is no index (or one without a card or signature, with a warning: see
        ``detect.ngram_index``)."""
        path = index_path_for(model_path, weights_sha256, home)
        if path is None:
            return cls(None)
        in_home = home is not None and bool(weights_sha256) and Path(path) == home_index_path(home, weights_sha256)
        try:
            index, card = load_verified(path, weights_sha256 if in_home else None, verify=verify)
        except UncardedIndexError as exc:  # unverifiable, not contradicted: as if there were no index, loudly
            warnings.warn(f"memorisation guard off: {exc} ({REBUILD_HINT})", UserWarning, stacklevel=2)
            return cls(None)
        if not in_home:
            _check_model_card(Path(path), card)
        return cls(index)

    def coverage(self, text: str) -> Coverage | None:
        return None if self.index is None else coverage_of(self.index, text)

    def apply(self, verdict: Any, text: str, certain_run: float, remainder: Any = None) -> Any:
        """``decide`` with the text's coverage computed here (``remainder``: the verdict on its unseen part)."""
        if verdict.verdict == "abstain":
            return verdict
        return self.decide(verdict, self.coverage(text), certain_run, remainder)

    def decide(self, verdict: Any, coverage: Coverage | None, certain_run: float, remainder: Any = None) -> Any:
        """The verdict, corrected in place (detectors and a first reason added); ``remainder`` is the ensemble's
        verdict on ``coverage.remainder`` (None when it was not scored)."""
        if verdict.verdict == "abstain":
            return verdict
        if coverage is not None and coverage.triggered:
            _set_aside(verdict, coverage, remainder)
        elif (bool(np.isfinite(certain_run)) and certain_run >= self.certain_run_tokens
              and verdict.verdict == "machine"):
            verdict.verdict = "uncertain"
            verdict.reasons.insert(0, f"{MEMORISED_REASON}: {int(certain_run)} near-certain tokens in a row, "
                                      "which memorised text shows and written or sampled text does not")
        verdict.detectors["memorised_overlap"] = None if coverage is None else round(coverage.overlap, 6)
        if coverage is not None:
            verdict.detectors["memorised_share"] = round(coverage.covered, 6)
        return verdict


MODEL_CARDS = ("model_card.json", "adapter_card.json")  # the cards the platform's trainers write


def _check_model_card(path: Path, card: dict[str, Any]) -> None:
    """A platform-trained model's card records its index's digest too: both must agree (an index swapped
    together with its sidecar card still disagrees with the model card written at training time)."""
    for name in MODEL_CARDS:
        try:
            recorded = json.loads((path.parent / name).read_text(encoding="utf-8")).get("memorisation_index")
        except (OSError, ValueError, AttributeError):
            continue
        expected = (recorded or {}).get("index_sha256") if isinstance(recorded, dict) else None
        if expected and expected != card.get("index_sha256"):
            raise DetectionError(f"memorisation index {path} is not the one {path.parent / name} records (SHA-256 "
                                 f"{str(card.get('index_sha256'))[:16]}... vs {expected[:16]}...)",
                                 hint=REBUILD_HINT)


def _set_aside(verdict: Any, coverage: Coverage, remainder: Any) -> None:
    """The verdict of a text whose covered share triggered the guard (see the module docstring): judged on its
    unseen remainder, with P(machine) the remainder's when it was judged. ``machine`` when the remainder is
    machine; ``human`` only when the remainder is human *and* most of the text is unseen (under
    ``SEEN_FRACTION``: a quotation inside human writing); otherwise ``uncertain``, never ``human`` because the
    scorer knew the text."""
    full_p, full_label = verdict.p_machine, verdict.verdict
    share = (f"{coverage.covered:.0%} of its words lie in word {NGRAM}-grams of the scorer's training-text index "
             f"({coverage.overlap:.0%} of its {NGRAM}-grams)")
    verdict.diagnostics["full_text"] = {"p_machine": full_p, "verdict": full_label}
    verdict.diagnostics["remainder_words"] = coverage.remainder_words
    judged = remainder is not None and remainder.verdict != "abstain"
    if judged:
        verdict.p_machine = remainder.p_machine
        verdict.detectors = {**remainder.detectors, "p_machine_full_text": full_p}
        label = remainder.verdict
        if label == "human" and coverage.covered >= SEEN_FRACTION:
            label = "uncertain"
        verdict.verdict = label
        if label == "machine":
            first = (f"{SET_ASIDE_REASON} ({share}); the remaining {coverage.remainder_words} words, judged on "
                     "their own, are machine text")
        else:
            first = (f"{MEMORISED_REASON}: {share}; that passage was set aside and the remaining "
                     f"{coverage.remainder_words} words were judged {remainder.verdict} on their own")
        verdict.reasons = [first, *remainder.reasons]
        return
    verdict.detectors["p_machine_full_text"] = full_p
    why = remainder.reasons[0] if remainder is not None and remainder.reasons else "too few words"
    verdict.verdict = "uncertain"
    verdict.reasons.insert(0, f"{MEMORISED_REASON}: {share}; the rest cannot be judged on its own ({why}), so "
                              f"the scores (P(machine)={full_p:.3f} for the whole text) say nothing about who "
                              "wrote it")


def index_path_for(model_path: Path | None, weights_sha256: str | None, home: Path | None) -> Path | None:
    """Where a model's index is: beside the model, else under the data home by weights hash (or None)."""
    if model_path is not None and (Path(model_path) / INDEX_FILE).is_file():
        return Path(model_path) / INDEX_FILE
    if home is not None and weights_sha256:
        candidate = home_index_path(home, weights_sha256)
        if candidate.is_file():
            return candidate
    return None


def home_index_path(home: Path, weights_sha256: str) -> Path:
    return Path(home) / "models" / "memorisation" / f"{weights_sha256}.bloom"


def corpus_documents(corpus: Path) -> Iterator[tuple[str, bool]]:
    """(document, held_out) for the shared corpus, rebuilt as ../shared/models/README.md describes."""
    for path in sorted(Path(corpus).glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        if "wiki" in path.name:
            documents = [piece.strip() for piece in raw.split("\n\n\n") if piece.strip()]
        else:
            paragraphs = raw.split("\n\n")
            documents = ["\n\n".join(paragraphs[i: i + 20]) for i in range(0, len(paragraphs), 20)]
        for document in documents:
            held_out = int(hashlib.md5(document.encode()).hexdigest(), 16) % 100 == 0
            yield document, held_out


def corpus_paragraphs(corpus: Path, *, held_out: bool, count: int, seed: int = 0,
                      min_words: int = 40, max_words: int = 250) -> list[str]:
    """``count`` paragraphs of trained-on (or held-out) corpus documents, sampled with a fixed seed."""
    pool = [paragraph.strip() for document, out in corpus_documents(corpus) if out == held_out
            for paragraph in document.split("\n\n")
            if min_words <= len(paragraph.split()) <= max_words]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(pool), size=min(count, len(pool)), replace=False)
    return [pool[i] for i in sorted(picks)]



def main(argv: list[str] | None = None) -> int:
    """``python -m detect.memorisation``: moved to ``provenance model memorisation-index`` (building an index for
    a configured model needs the application's settings, which this library must not import)."""
    print("error: `python -m detect.memorisation build` moved to the provenance CLI", file=sys.stderr)
    print("hint: provenance model memorisation-index --corpus DIR [--model M] [--include-held-out]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
