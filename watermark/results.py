"""Result objects of the detector: plain data, JSON-ready through ``to_dict()``, never holding a secret."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class KeyScore:
    """The test for one key."""

    key_id: str
    scheme: str
    gamma: float
    num_tokens_scored: int
    num_green: int
    z_score: float | None
    p_value: float | None  # exact binomial, uncorrected


@dataclass
class DetectionResult:
    """Outcome of testing one text against the detector's keys.

    ``p_value`` is the best key's exact one-sided binomial p-value multiplied by the number of keys tested
    (Bonferroni): testing k keys gives k chances of a false alarm. ``watermarked`` compares it with the
    threshold: the operator's ``fpr`` when one was chosen, else the one-sided normal tail of ``z_threshold``
    (3.17e-5 for z = 4). ``too_short``: fewer scored tokens than ``min_tokens_required``, the fewest with which
    the test could reach that threshold at all; such a text is neither watermarked nor "not watermarked".
    """

    watermarked: bool
    abstain: bool
    reason: str | None
    p_value: float | None
    z_score: float | None
    green_fraction: float | None
    num_tokens: int
    num_tokens_scored: int
    num_green: int
    key_id: str | None  # the best-scoring key (the matched one when watermarked)
    keys_tested: int
    p_value_uncorrected: float | None
    p_value_threshold: float
    correction: str
    per_key: list[KeyScore] = field(default_factory=list)
    green_mask: list[bool | None] | None = None  # per token: True/False if scored, None if not
    token_offsets: list[tuple[int, int]] | None = None  # per token: [start, end) in the caller's text
    too_short: bool = False
    min_tokens_required: int | None = None
    fpr: float | None = None  # the operator-chosen false-positive rate (None: the z_threshold rule)
    scheme: str | None = None  # scheme of the best-scoring key

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Span:
    """A watermarked region: character offsets in the caller's text (when detecting text) and token indices.

    ``start``/``end``/``token_*`` are the refined boundaries to highlight; the statistics (p-values, counts) are
    those of the tested window ``[window_token_start, window_token_end)`` that the correction covers.
    """

    start: int | None
    end: int | None
    token_start: int
    token_end: int  # exclusive
    window_token_start: int
    window_token_end: int
    p_value: float  # corrected for every window (and key) tested
    p_value_uncorrected: float
    num_tokens_scored: int
    num_green: int
    key_id: str


@dataclass
class WindowedResult:
    """Most watermarked span(s) of a long text, with the whole-text detection alongside."""

    watermarked: bool
    abstain: bool
    reason: str | None
    p_value: float | None  # best window, corrected for windows x keys tested
    spans: list[Span]  # significant spans, most significant first
    best_span: Span | None  # most significant window even when not significant (for ranking/ROC)
    windows_tested: int
    keys_tested: int
    method: str
    overall: DetectionResult

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
