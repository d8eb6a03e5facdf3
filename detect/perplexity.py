"""Single-pass perplexity statistics: one forward pass of the scorer LM gives every zero-shot signal.

Per scored token t (predicting x_t from x_<t) we keep log q(x_t), its rank among all candidates, the
entropy of q_t and the variance of log q_t(v) under q_t. Everything else is an aggregate of those arrays:

* mean log-likelihood, mean log-rank, GLTR rank buckets (top-10/100/1000), mean entropy;
* LRR = -mean log-likelihood / mean log-rank (DetectLLM's log-likelihood/log-rank ratio);
* the Fast-DetectGPT analytic criterion, white-box (sampling and scoring model are the scorer):
  D = (sum_t log q_t(x_t) - sum_t mu_t) / sqrt(sum_t var_t), with mu_t = sum_v q_t(v) log q_t(v) = -entropy_t;
* burstiness: the spread (standard deviation) of per-sentence mean negative log-likelihood;
* evidence for *both* tails (version 3): ``surprise_excess`` = mean over tokens of (-log q(x_t) - entropy_t),
  how much more surprising the text is than the scorer itself expects (0 for the scorer's own samples,
  negative for greedy/low-temperature text, positive for human text *and* for text sampled at temperature 1
  from a different model: a stacker that is not monotone in it can call both tails); ``certain_share``
  (share of tokens the scorer gives probability >= 0.9) and ``certain_run`` (the longest run of such tokens,
  in tokens): memorised text (quotations, public text the scorer was trained on) shows long runs of
  near-certain tokens that neither human writing nor sampled text has (see ``detect.memorisation``).

Speed comes from packing many texts into few forward passes: texts are cut into segments no longer than the
context, sorted by length and packed under a token budget (right padding + attention mask; GPT-2's absolute
positions stay correct with right padding), and the LM head runs only on the positions that are scored,
never on padding. Texts longer than the context are scored with a sliding window (stride = half the
context, as in Hugging Face's perplexity guide: each token scored once with at least half a context of
history); texts longer than
``max_text_tokens`` are scored on their first ``max_text_tokens`` tokens and marked ``truncated``.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

STATISTICS = (
    "log_likelihood", "log_rank", "lrr", "fast_detectgpt", "entropy", "gltr_top10", "gltr_top100",
    "gltr_top1000", "burstiness", "log_likelihood_std", "top1", "token_z_mean", "token_z_positive",
    "log_likelihood_q10", "log_likelihood_q50", "log_likelihood_q90", "entropy_std",
    "surprise_excess", "certain_share", "certain_run",
)
STATS_VERSION = 3  # bump when a statistic's definition changes: cached values are then ignored
# Sign that turns each statistic into "higher = more machine-like" (machine text is more probable,
# lower-ranked, lower-entropy and more uniform than human text under a language model).
MACHINE_DIRECTION = {
    "log_likelihood": 1.0, "log_rank": -1.0, "lrr": 1.0, "fast_detectgpt": 1.0, "entropy": -1.0,
    "gltr_top10": 1.0, "gltr_top100": 1.0, "gltr_top1000": 1.0, "burstiness": -1.0,
    "log_likelihood_std": -1.0, "top1": 1.0, "token_z_mean": 1.0, "token_z_positive": 1.0,
    "log_likelihood_q10": 1.0, "log_likelihood_q50": 1.0, "log_likelihood_q90": 1.0, "entropy_std": -1.0,
    "surprise_excess": -1.0, "certain_share": 1.0, "certain_run": 1.0,
}
CERTAIN_LOG_PROB = math.log(0.9)  # a token is "near-certain" when the scorer gives it probability >= 0.9
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


@dataclass(frozen=True)
class TokenScores:
    """Per-token arrays for one text (scored tokens only) and each token's start character."""

    log_likelihood: np.ndarray
    rank: np.ndarray
    entropy: np.ndarray
    variance: np.ndarray
    char_starts: np.ndarray
    truncated: bool
    pooled: np.ndarray | None = None  # mean last hidden state over the scored positions (the probe's input)


@dataclass(frozen=True)
class PerplexityStats:
    """All single-pass statistics of one text (NaN where the text has too few tokens)."""

    tokens: int
    truncated: bool
    log_likelihood: float
    log_rank: float
    lrr: float
    fast_detectgpt: float
    entropy: float
    gltr_top10: float
    gltr_top100: float
    gltr_top1000: float
    burstiness: float
    log_likelihood_std: float
    top1: float
    token_z_mean: float
    token_z_positive: float
    log_likelihood_q10: float
    log_likelihood_q50: float
    log_likelihood_q90: float
    entropy_std: float
    surprise_excess: float = float("nan")
    certain_share: float = float("nan")
    certain_run: float = float("nan")

    def as_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


@dataclass(frozen=True)
class _Segment:
    text_index: int
    order: int  # position of this window within its text (left to right)
    ids: list[int]
    first_scored: int  # positions first_scored .. len(ids)-2 are scored: position p predicts ids[p+1]


def sentence_starts(text: str) -> list[int]:
    """Character offsets where sentences start (a light splitter: ., ! or ? followed by space)."""
    return [0] + [match.end() for match in _SENTENCE_END.finditer(text)]


def aggregate(scores: TokenScores, text: str) -> PerplexityStats:
    """Reduce per-token arrays to the text's statistics."""
    n = int(scores.log_likelihood.size)
    if n == 0:
        nan = float("nan")
        return PerplexityStats(0, scores.truncated, *([nan] * (len(STATISTICS))))
    ll = scores.log_likelihood.astype(np.float64)
    log_rank = np.log(scores.rank.astype(np.float64))
    entropy = scores.entropy.astype(np.float64)
    variance = np.clip(scores.variance.astype(np.float64), 0.0, None)
    mean_log_rank = float(log_rank.mean())
    lrr = float(-ll.mean() / mean_log_rank) if mean_log_rank > 1e-9 else float("nan")
    spread = math.sqrt(float(variance.sum()))
    fast = float((ll.sum() + entropy.sum()) / spread) if spread > 0 else float("nan")
    # Per-token standardised surprise: the Fast-DetectGPT numerator and denominator token by token.
    z = (ll + entropy) / np.sqrt(np.maximum(variance, 1e-6))
    quantiles = np.quantile(ll, [0.1, 0.5, 0.9])
    return PerplexityStats(
        tokens=n,
        truncated=scores.truncated,
        log_likelihood=float(ll.mean()),
        log_rank=mean_log_rank,
        lrr=lrr,
        fast_detectgpt=fast,
        entropy=float(entropy.mean()),
        gltr_top10=float((scores.rank <= 10).mean()),
        gltr_top100=float((scores.rank <= 100).mean()),
        gltr_top1000=float((scores.rank <= 1000).mean()),
        burstiness=_burstiness(ll, scores.char_starts, text),
        log_likelihood_std=float(ll.std()),
        top1=float((scores.rank == 1).mean()),
        token_z_mean=float(z.mean()),
        token_z_positive=float((z > 0).mean()),
        log_likelihood_q10=float(quantiles[0]),
        log_likelihood_q50=float(quantiles[1]),
        log_likelihood_q90=float(quantiles[2]),
        entropy_std=float(entropy.std()),
        surprise_excess=float((-ll - entropy).mean()),
        certain_share=float((ll >= CERTAIN_LOG_PROB).mean()),
        certain_run=float(longest_run(ll >= CERTAIN_LOG_PROB)),
    )


def longest_run(flags: np.ndarray) -> int:
    """Length of the longest run of True values."""
    if flags.size == 0 or not flags.any():
        return 0
    padded = np.concatenate([[0], flags.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())


def _burstiness(ll: np.ndarray, char_starts: np.ndarray, text: str, min_tokens: int = 3) -> float:
    """Standard deviation of per-sentence mean NLL over sentences with at least ``min_tokens`` tokens."""
    starts = sentence_starts(text)
    sentence_of_token = [bisect.bisect_right(starts, int(c)) - 1 for c in char_starts]
    sums: dict[int, list[float]] = {}
    for sentence, value in zip(sentence_of_token, ll, strict=True):
        sums.setdefault(sentence, []).append(-float(value))
    means = [sum(values) / len(values) for values in sums.values() if len(values) >= min_tokens]
    return float(np.std(means)) if len(means) >= 2 else 0.0


class PerplexityScorer:
    """Scores texts with a causal LM (a ``generator.LoadedModel``) in packed, length-bucketed batches."""

    def __init__(self, lm, *, batch_tokens: int = 8192, max_text_tokens: int = 2048,
                 head_chunk: int = 256) -> None:
        self.lm = lm
        self.model = lm.model
        self.tokenizer = lm.tokenizer
        self.context = int(lm.context_length)
        self.batch_tokens = max(batch_tokens, self.context)
        self.max_text_tokens = max_text_tokens
        self.head_chunk = head_chunk
        self.device = next(self.model.parameters()).device
        bos = self.tokenizer.bos_token_id
        self.bos_id = bos if bos is not None else self.tokenizer.eos_token_id
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.bos_id
        # Long texts are windowed here, so transformers' "longer than the maximum length" warning is noise.
        warned = getattr(self.tokenizer, "deprecation_warnings", None)
        if isinstance(warned, dict):
            warned["sequence-length-is-longer-than-the-specified-maximum"] = True

    @property
    def identity(self) -> str:
        """Everything that changes the statistics: weights, tokenizer size, context, truncation."""
        weights = self.lm.weights_sha256 or self.lm.name
        return (f"stats-v{STATS_VERSION}|{weights}|vocab={len(self.tokenizer)}|ctx={self.context}"
                f"|max={self.max_text_tokens}|q={self.lm.quantized or 'none'}"
                f"|dtype={str(self.lm.dtype).removeprefix('torch.')}")

    # -- tokenisation and segmentation -------------------------------------------------------------
    def _encode(self, text: str) -> tuple[list[int], list[int], bool]:
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(encoded["input_ids"])
        starts = [int(start) for start, _ in encoded["offset_mapping"]]
        truncated = len(ids) > self.max_text_tokens
        ids, starts = ids[: self.max_text_tokens], starts[: self.max_text_tokens]
        return [self.bos_id, *ids], starts, truncated

    def _segments(self, index: int, ids: list[int]) -> list[_Segment]:
        """Strided windows (Hugging Face's perplexity recipe): windows start every ``context // 2`` ids,
        span at most ``context`` ids, and each one scores only the targets the previous windows did not."""
        stride = max(self.context // 2, 1)
        segments: list[_Segment] = []
        scored_until = 1  # ids[0] is the BOS token: targets are ids[1:]
        for begin in range(0, len(ids), stride):
            end = min(begin + self.context, len(ids))
            if end > scored_until:
                segments.append(_Segment(index, len(segments), ids[begin:end], scored_until - 1 - begin))
                scored_until = end
            if end == len(ids):
                break
        return segments or [_Segment(index, 0, ids, 0)]

    def _batches(self, segments: list[_Segment]) -> list[list[_Segment]]:
        ordered = sorted(segments, key=lambda seg: len(seg.ids))
        batches: list[list[_Segment]] = []
        current: list[_Segment] = []
        for segment in ordered:
            width = len(segment.ids)  # sorted ascending: the newest segment is the widest
            if current and width * (len(current) + 1) > self.batch_tokens:
                batches.append(current)
                current = []
            current.append(segment)
        if current:
            batches.append(current)
        return batches

    # -- forward pass ---------------------------------------------------------------------------------
    @torch.inference_mode()
    def _score_batch(self, batch: list[_Segment]) -> list[tuple[np.ndarray, ...]]:
        width = max(len(seg.ids) for seg in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        scored = torch.zeros((len(batch), width), dtype=torch.bool)  # positions whose next token is scored
        for row, seg in enumerate(batch):
            input_ids[row, : len(seg.ids)] = torch.tensor(seg.ids)
            attention[row, : len(seg.ids)] = 1
            scored[row, seg.first_scored: len(seg.ids) - 1] = True
        input_ids, attention = input_ids.to(self.device), attention.to(self.device)
        hidden = self.model.transformer(input_ids=input_ids, attention_mask=attention).last_hidden_state
        targets = torch.roll(input_ids, shifts=-1, dims=1)
        flat_mask = scored.reshape(-1).to(self.device)
        positions_hidden = hidden.reshape(-1, hidden.shape[-1])[flat_mask]
        positions_targets = targets.reshape(-1)[flat_mask]
        parts = [self._token_statistics(positions_hidden[i: i + self.head_chunk],
                                        positions_targets[i: i + self.head_chunk])
                 for i in range(0, positions_targets.numel(), self.head_chunk)]
        ll, rank, entropy, variance = (torch.cat([part[k] for part in parts]).cpu().numpy() for k in range(4))
        states = positions_hidden.float().cpu().numpy()
        results, offset = [], 0
        for seg in batch:
            count = len(seg.ids) - 1 - seg.first_scored
            sl = slice(offset, offset + count)
            results.append((ll[sl], rank[sl], entropy[sl], variance[sl], states[sl].sum(axis=0)))
            offset += count
        return results

    def _token_statistics(self, hidden: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """log q(x_t), rank, entropy and Var[log q] in few passes over the vocabulary.

        Variance is shift-invariant, so it is computed on max-centred logits; the mean of log q under q is
        E_q[logit] - logsumexp. This avoids materialising log-probabilities and their squares separately.
        """
        logits = self.model.lm_head(hidden).float()
        logits = logits - logits.amax(dim=-1, keepdim=True)
        probs = torch.softmax(logits, dim=-1)
        # The arg-max logit is 0 after centring, so its probability is 1/Z: log Z without another exp pass.
        log_norm = -torch.log(probs.amax(dim=-1))
        target_logits = logits.gather(-1, targets[:, None]).squeeze(-1)
        rank = (logits > target_logits[:, None]).float().sum(-1).long() + 1  # float sum: faster than bool
        expected = torch.linalg.vecdot(probs, logits)
        second = torch.linalg.vecdot(probs, logits.square())
        return target_logits - log_norm, rank, log_norm - expected, second - expected.square()

    # -- public API -----------------------------------------------------------------------------------
    def token_scores(self, texts: Sequence[str],
                     progress: Callable[[int], None] | None = None) -> list[TokenScores]:
        """Per-token arrays for each text, in input order."""
        encoded = [self._encode(text) for text in texts]
        segments = [seg for i, (ids, _, _) in enumerate(encoded) for seg in self._segments(i, ids)]
        pieces: dict[int, list[tuple[int, tuple[np.ndarray, ...]]]] = {i: [] for i in range(len(texts))}
        for batch in self._batches(segments):
            for seg, arrays in zip(batch, self._score_batch(batch), strict=True):
                pieces[seg.text_index].append((seg.order, arrays))
            if progress is not None:
                progress(sum(len(seg.ids) for seg in batch))
        results = []
        for i, (_, starts, truncated) in enumerate(encoded):
            arrays = [piece for _, piece in sorted(pieces[i], key=lambda item: item[0])]
            ll, rank, entropy, variance = (np.concatenate([a[k] for a in arrays]) for k in range(4))
            pooled = sum(a[4] for a in arrays) / max(ll.size, 1) if ll.size else None
            results.append(TokenScores(ll, rank, entropy, variance, np.asarray(starts[: ll.size]), truncated,
                                       pooled))
        return results

    def statistics(self, texts: Sequence[str],
                   progress: Callable[[int], None] | None = None) -> list[PerplexityStats]:
        return self.statistics_and_states(texts, progress)[0]

    def statistics_and_states(self, texts: Sequence[str], progress: Callable[[int], None] | None = None
                              ) -> tuple[list[PerplexityStats], np.ndarray]:
        """Statistics and the ``(n, hidden width)`` mean-pooled states (NaN rows for texts with no token)."""
        scores = self.token_scores(texts, progress)
        width = int(getattr(self.lm.model.config, "n_embd", 0) or 0)
        states = np.full((len(texts), width), np.nan, dtype=np.float32)
        for i, item in enumerate(scores):
            if item.pooled is not None and item.pooled.size == width:
                states[i] = item.pooled
        return [aggregate(item, text) for item, text in zip(scores, texts, strict=True)], states
