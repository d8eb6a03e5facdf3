"""``WatermarkDetector``: model-free detection from a tokenizer and one or more keys (numpy on the hot path).

Pipeline: input checks -> normalisation (with an offset map) -> chunked tokenisation -> per key: keyed
positions, n-gram de-duplication, green bits (one vectorised call) -> exact binomial test -> Bonferroni across
keys. ``detect_ids_batch`` scores many documents in one pass, which is what a scanning worker should call.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from watermark.errors import WatermarkError, WatermarkInputError
from watermark.hf_compat import HFLefthashGreenlists
from watermark.keys import WatermarkKey
from watermark.normalize import NormalizedText, normalize_with_offsets
from watermark.prf import derive_material, green_bits
from watermark.results import DetectionResult, KeyScore, Span, WindowedResult
from watermark.schemes import SchemeSpec
from watermark.scoring import BatchScores, score_batch
from watermark.stats import binom_logsf, min_decidable_tokens, normal_sf, z_score
from watermark.tokens import coerce_text, special_token_ids, tokenize
from watermark.windows import WindowHit, refine, scan, window_sizes, windows_tested

DEFAULT_MAX_CHARS = 20_000_000
WINDOW_METHOD = ("max over windows of sizes min_tokens*1.25^k (and the whole text), stride 1, exact binomial "
                 "p-value, Bonferroni-corrected by windows tested x keys tested")


class _KeyScorer:
    """One key's green-bit function and statistics parameters (the secret stays inside)."""

    def __init__(self, key: WatermarkKey) -> None:
        self.key_id = key.key_id
        self.scheme = key.scheme
        self.spec: SchemeSpec = key.spec
        if key.scheme == "hf-lefthash":
            greenlists = HFLefthashGreenlists(int(key.secret.decode("ascii")), int(key.vocab_size or 0), key.gamma)
            self.gamma = greenlists.effective_gamma
            self.green_fn = greenlists.green_bits
        else:
            material = derive_material(key.secret, key.gamma, key.spec)
            self.gamma = key.gamma
            self.green_fn = lambda ngrams: green_bits(material, ngrams)


@dataclass(frozen=True)
class _Prepared:
    """A document ready for scoring: ids (prompt first), where the caller's tokens start, offsets if any."""

    ids: np.ndarray
    prompt_length: int
    report_from: int  # green_mask/token_offsets cover ids[report_from:]
    offsets: np.ndarray | None  # for ids[report_from:]


def _coerce_ids(token_ids: Any, what: str = "token_ids") -> np.ndarray:
    if hasattr(token_ids, "detach"):  # a torch tensor; no torch import needed
        token_ids = token_ids.detach().cpu().numpy()
    try:
        ids = np.asarray(token_ids)
    except (TypeError, ValueError) as exc:
        raise WatermarkInputError(f"{what} must be a sequence of integers") from exc
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    if ids.ndim != 1:
        raise WatermarkInputError(f"{what} must be one sequence (1-D), got shape {ids.shape}; "
                                  "use detect_ids_batch for several")
    if not np.issubdtype(ids.dtype, np.integer):
        raise WatermarkInputError(f"{what} must be integers, got dtype {ids.dtype}")
    if (ids < 0).any():
        raise WatermarkInputError(f"{what} contains negative ids")
    return ids.astype(np.int64, copy=False)


class WatermarkDetector:
    """Detect green-list watermarks of ``keys`` in text or token ids made with ``tokenizer``.

    Every key must belong to ``tokenizer`` (same fingerprint), else ``WatermarkKeyMismatchError``: a detector
    with the wrong tokenizer would not fail, it would quietly say "not watermarked".
    """

    def __init__(self, tokenizer: Any, keys: WatermarkKey | Sequence[WatermarkKey], *, min_tokens: int = 16,
                 z_threshold: float = 4.0, fpr: float | None = None, normalize: bool = True,
                 ignore_repeated_ngrams: bool = True, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        key_list = [keys] if isinstance(keys, WatermarkKey) else list(keys)
        if not key_list:
            raise WatermarkError("a detector needs at least one key")
        unique: dict[str, WatermarkKey] = {}
        for key in key_list:
            if not isinstance(key, WatermarkKey):
                raise TypeError(f"keys must be WatermarkKey objects, got {type(key).__name__}")
            key.check_tokenizer(tokenizer)
            unique.setdefault(key.key_id, key)
        if min_tokens < 1:
            raise ValueError("min_tokens must be >= 1")
        self.tokenizer = tokenizer
        self.min_tokens = int(min_tokens)
        self.z_threshold = float(z_threshold)
        self.fpr: float | None = None
        self.p_threshold = normal_sf(self.z_threshold)
        self.normalize = normalize
        self.dedupe = ignore_repeated_ngrams
        self.max_chars = int(max_chars)
        self.key_ids = list(unique)
        self._scorers = [_KeyScorer(key) for key in unique.values()]
        self._special = np.asarray(special_token_ids(tokenizer), dtype=np.int64)
        if fpr is not None:
            self._set_fpr(fpr)

    def _set_fpr(self, fpr: float) -> None:
        if not (isinstance(fpr, int | float) and math.isfinite(fpr) and 0.0 < fpr < 1.0):
            raise WatermarkInputError(f"fpr must be a false-positive rate in (0, 1), e.g. 1e-3; got {fpr!r}")
        self.fpr = float(fpr)
        self.p_threshold = self.fpr  # the p-value is exact (binomial), so p < fpr has false-positive rate <= fpr

    def at_fpr(self, fpr: float | None) -> WatermarkDetector:
        """This detector deciding at an operator-chosen false-positive rate (a cheap copy sharing the keys and
        tokenizer; ``None`` returns ``self``, i.e. the default rule z > ``z_threshold``)."""
        if fpr is None:
            return self
        other = copy.copy(self)
        other._set_fpr(fpr)
        return other

    def min_tokens_required(self, gamma: float | None = None, keys: int | None = None) -> int:
        """Scored tokens a text needs before it can be decided at this detector's threshold.

        The larger of ``min_tokens`` (the floor below which the detector never decides) and the fewest tokens
        whose best possible outcome (every token green) would clear the threshold after the correction for
        ``keys`` keys: below that even a perfectly watermarked text cannot reach the chosen false-positive
        rate, so "not watermarked" would be a statement the test cannot make; the answer is ``too_short``."""
        gamma = max(s.gamma for s in self._scorers) if gamma is None else gamma
        keys = len(self._scorers) if keys is None else keys
        return max(self.min_tokens, min_decidable_tokens(gamma, self.p_threshold / max(keys, 1)))

    def __repr__(self) -> str:
        rule = f"fpr={self.fpr}" if self.fpr is not None else f"z_threshold={self.z_threshold}"
        return f"WatermarkDetector(keys={self.key_ids}, min_tokens={self.min_tokens}, {rule})"

    # ----------------------------------------------------------------------------------------- preparation
    def _normalized(self, text: str) -> NormalizedText:
        return normalize_with_offsets(text) if self.normalize else NormalizedText(text, text, None, None)

    def _prepare_text(self, text: Any, prompt: Any, with_offsets: bool) -> _Prepared:
        body = self._normalized(coerce_text(text, self.max_chars))
        tokens = tokenize(self.tokenizer, body.text, with_offsets=with_offsets)
        offsets = body.original_spans(tokens.offsets) if tokens.offsets is not None else None
        prompt_ids = np.zeros(0, dtype=np.int64)
        if prompt is not None:
            prompt_text = self._normalized(coerce_text(prompt, self.max_chars)).text
            prompt_ids = tokenize(self.tokenizer, prompt_text, with_offsets=False).ids
        ids = np.concatenate([prompt_ids, tokens.ids])
        return _Prepared(ids, len(prompt_ids), len(prompt_ids), offsets)

    @staticmethod
    def _prepare_ids(token_ids: Any, prompt_ids: Any, prompt_length: int) -> _Prepared:
        ids = _coerce_ids(token_ids)
        if prompt_ids is not None:
            if prompt_length:
                raise WatermarkInputError("pass either prompt_ids (separate) or prompt_length (inside token_ids)")
            prefix = _coerce_ids(prompt_ids, "prompt_ids")
            return _Prepared(np.concatenate([prefix, ids]), len(prefix), len(prefix), None)
        if not 0 <= prompt_length <= len(ids):
            raise WatermarkInputError(f"prompt_length must be between 0 and {len(ids)}, got {prompt_length}")
        return _Prepared(ids, int(prompt_length), 0, None)

    def _score(self, docs: Sequence[_Prepared]) -> list[BatchScores]:
        arrays = [doc.ids for doc in docs]
        prompts = [doc.prompt_length for doc in docs]
        return [score_batch(arrays, scorer.green_fn, scorer.spec.prefix_len, self._special, prompts, self.dedupe)
                for scorer in self._scorers]

    # ----------------------------------------------------------------------------------------- results
    def _key_scores(self, scored: np.ndarray, green: np.ndarray) -> list[KeyScore]:
        out = []
        keys = len(self._scorers)
        for scorer, n, g in zip(self._scorers, scored, green, strict=True):
            n, g = int(n), int(g)
            testable = n >= self.min_tokens_required(scorer.gamma, keys)
            out.append(KeyScore(
                key_id=scorer.key_id, scheme=scorer.scheme, gamma=scorer.gamma, num_tokens_scored=n, num_green=g,
                z_score=z_score(g, n, scorer.gamma) if testable else None,
                p_value=math.exp(binom_logsf(g, n, scorer.gamma)) if testable else None))
        return out

    def _abstain_reason(self, num_tokens: int, per_key: list[KeyScore]) -> str:
        if num_tokens == 0:
            return "no tokens to score (empty or whitespace-only text after normalisation)"
        most = max(score.num_tokens_scored for score in per_key)
        rate = f"a false-positive rate of {self.fpr:g}" if self.fpr is not None else "a reliable test"
        return (f"too short: only {most} token(s) could be scored after removing the prompt, special tokens, tokens "
                f"without full context and repeated n-grams; at least {self._required()} are needed for {rate}")

    def _required(self) -> int:
        return min(self.min_tokens_required(s.gamma, len(self._scorers)) for s in self._scorers)

    def _result(self, doc: _Prepared, per_key_scores: list[BatchScores], index: int, details: bool) -> DetectionResult:
        start, end = (int(per_key_scores[0].doc_starts[index]), int(per_key_scores[0].doc_starts[index + 1]))
        scored = np.array([int(s.scored[start:end].sum()) for s in per_key_scores])
        green = np.array([int((s.scored[start:end] & s.green[start:end]).sum()) for s in per_key_scores])
        return self._assemble(doc, per_key_scores, start, end, self._key_scores(scored, green), details)

    def _assemble(self, doc: _Prepared, per_key_scores: list[BatchScores], start: int, end: int,
                  per_key: list[KeyScore], details: bool) -> DetectionResult:
        num_tokens = end - start - doc.report_from
        testable = [i for i, score in enumerate(per_key) if score.p_value is not None]
        best = min(testable, key=lambda i: per_key[i].p_value) if testable else 0  # type: ignore[arg-type,return-value]
        tests = max(len(testable), 1)
        correction = ("none (one key)" if tests == 1 else
                      f"bonferroni over {tests} keys: the best key's p-value is multiplied by {tests}, because "
                      f"testing {tests} keys multiplies the false-positive rate by up to {tests}")
        mask = offsets = None
        if details:
            scored = per_key_scores[best].scored[start + doc.report_from:end]
            green = per_key_scores[best].green[start + doc.report_from:end]
            mask_array = np.full(len(scored), None, dtype=object)
            mask_array[scored] = green[scored].tolist()
            mask = mask_array.tolist()
            if doc.offsets is not None:
                offsets = [(a, b) for a, b in doc.offsets.tolist()]
        chosen = per_key[best]
        decision = {"fpr": self.fpr, "min_tokens_required": self._required(), "scheme": self._scorers[best].scheme}
        if not testable:
            return DetectionResult(
                watermarked=False, abstain=True, reason=self._abstain_reason(num_tokens, per_key), p_value=None,
                z_score=None, green_fraction=None, num_tokens=num_tokens,
                num_tokens_scored=chosen.num_tokens_scored, num_green=chosen.num_green, key_id=None,
                keys_tested=0, p_value_uncorrected=None, p_value_threshold=self.p_threshold,
                correction="none (nothing tested)", per_key=per_key, green_mask=mask, token_offsets=offsets,
                too_short=True, **decision)
        raw = float(chosen.p_value)  # type: ignore[arg-type]
        corrected = min(1.0, raw * tests)
        return DetectionResult(
            watermarked=corrected < self.p_threshold, abstain=False, reason=None, p_value=corrected,
            z_score=chosen.z_score, green_fraction=chosen.num_green / chosen.num_tokens_scored, num_tokens=num_tokens,
            num_tokens_scored=chosen.num_tokens_scored, num_green=chosen.num_green, key_id=chosen.key_id,
            keys_tested=tests, p_value_uncorrected=raw, p_value_threshold=self.p_threshold, correction=correction,
            per_key=per_key, green_mask=mask, token_offsets=offsets, too_short=False, **decision)

    # ----------------------------------------------------------------------------------------- public API
    def detect(self, text: str | bytes, *, prompt: str | None = None, details: bool = True) -> DetectionResult:
        """Test a text. ``prompt`` (if the text continues a known prompt) is used as context, never scored.
        ``details`` adds the per-token green mask and character offsets (off for bulk scoring)."""
        doc = self._prepare_text(text, prompt, with_offsets=details)
        return self._result(doc, self._score([doc]), 0, details)

    def detect_ids(self, token_ids: Any, *, prompt_ids: Any = None, prompt_length: int = 0,
                   details: bool = True) -> DetectionResult:
        """Test token ids. Give the prompt either as ``prompt_ids`` (context before ``token_ids``) or as the
        first ``prompt_length`` entries of ``token_ids``; prompt tokens are context only, never scored."""
        doc = self._prepare_ids(token_ids, prompt_ids, prompt_length)
        return self._result(doc, self._score([doc]), 0, details)

    def detect_ids_batch(self, sequences: Sequence[Any], *, prompt_lengths: Sequence[int] | None = None,
                         details: bool = False) -> list[DetectionResult]:
        """``detect_ids`` for many documents at once: one vectorised scoring pass per key."""
        lengths = list(prompt_lengths) if prompt_lengths is not None else [0] * len(sequences)
        if len(lengths) != len(sequences):
            raise WatermarkInputError("prompt_lengths must have one entry per sequence")
        docs = [self._prepare_ids(ids, None, n) for ids, n in zip(sequences, lengths, strict=True)]
        if not docs:
            return []
        per_key_scores = self._score(docs)
        counts = [scores.counts() for scores in per_key_scores]
        results = []
        for index, doc in enumerate(docs):
            scored = np.array([c[0][index] for c in counts])
            green = np.array([c[1][index] for c in counts])
            start, end = int(per_key_scores[0].doc_starts[index]), int(per_key_scores[0].doc_starts[index + 1])
            results.append(self._assemble(doc, per_key_scores, start, end, self._key_scores(scored, green), details))
        return results

    def detect_windowed(self, text: str | bytes, *, prompt: str | None = None, max_spans: int = 3,
                        sizes: Sequence[int] | None = None, details: bool = False) -> WindowedResult:
        """Find the most watermarked span(s) of a long text; spans carry character offsets into ``text``."""
        return self._windowed(self._prepare_text(text, prompt, with_offsets=True), max_spans, sizes, details)

    def detect_windowed_ids(self, token_ids: Any, *, prompt_ids: Any = None, prompt_length: int = 0,
                            max_spans: int = 3, sizes: Sequence[int] | None = None,
                            details: bool = False) -> WindowedResult:
        """``detect_windowed`` on token ids; spans carry token indices (``start``/``end`` are None)."""
        return self._windowed(self._prepare_ids(token_ids, prompt_ids, prompt_length), max_spans, sizes, details)

    def _windowed(self, doc: _Prepared, max_spans: int, sizes: Sequence[int] | None,
                  details: bool) -> WindowedResult:
        per_key_scores = self._score([doc])
        overall = self._result(doc, per_key_scores, 0, details)
        searches: list[tuple[_KeyScorer, np.ndarray, list[int], int]] = []
        for scorer, scores in zip(self._scorers, per_key_scores, strict=True):
            positions = np.flatnonzero(scores.scored)
            chosen = window_sizes(len(positions), self.min_tokens) if sizes is None else \
                sorted({int(w) for w in sizes if self.min_tokens <= int(w) <= len(positions)})
            if chosen:
                searches.append((scorer, positions, chosen, windows_tested(len(positions), chosen)))
        if not searches:
            return WindowedResult(False, True, overall.reason or "too few scored tokens for any window", None, [],
                                  None, 0, 0, WINDOW_METHOD, overall)
        keys = len(searches)
        best_hits: list[tuple[float, _KeyScorer, np.ndarray, list[WindowHit], int]] = []
        for scorer, positions, chosen, tests in searches:
            bits = per_key_scores[self._scorers.index(scorer)].green[positions]
            total_tests = tests * keys
            stop = math.log(self.p_threshold) - math.log(total_tests)
            hits = scan(bits, scorer.gamma, chosen, max(1, max_spans), stop)
            if hits:
                best_hits.append((hits[0].log_p + math.log(total_tests), scorer, positions, hits, total_tests))
        _, scorer, positions, hits, total_tests = min(best_hits, key=lambda item: item[0])
        bits = per_key_scores[self._scorers.index(scorer)].green[positions]
        spans = [self._span(doc, scorer, positions, bits, hit, total_tests) for hit in hits]
        significant = [span for span in spans if span.p_value < self.p_threshold]
        return WindowedResult(
            watermarked=bool(significant), abstain=False, reason=None, p_value=spans[0].p_value, spans=significant,
            best_span=spans[0], windows_tested=sum(s[3] for s in searches), keys_tested=keys, method=WINDOW_METHOD,
            overall=overall)

    @staticmethod
    def _span(doc: _Prepared, scorer: _KeyScorer, positions: np.ndarray, bits: np.ndarray, hit: WindowHit,
              tests: int) -> Span:
        low, high = refine(bits, hit, scorer.gamma)
        token_start = int(positions[low]) - doc.report_from
        token_end = int(positions[high - 1]) + 1 - doc.report_from
        window_start = int(positions[hit.start]) - doc.report_from
        window_end = int(positions[hit.start + hit.size - 1]) + 1 - doc.report_from
        start = end = None
        if doc.offsets is not None and len(doc.offsets):
            start, end = int(doc.offsets[max(token_start, 0)][0]), int(doc.offsets[token_end - 1][1])
        return Span(start=start, end=end, token_start=token_start, token_end=token_end, window_token_start=window_start,
                    window_token_end=window_end, p_value=hit.corrected_p(tests),
                    p_value_uncorrected=math.exp(hit.log_p), num_tokens_scored=hit.size, num_green=hit.green,
                    key_id=scorer.key_id)
