"""Binoculars (Hans et al. 2024): a text's perplexity divided by how surprising one model finds another's guesses.

A single scorer's perplexity confuses "machine-written" with "easy to predict" (a simple topic, a famous
quotation) and with "written by a model unlike me" (pure sampling from another model is *less* likely than human
text). Binoculars normalises the first by the second: with two models that share a tokenizer,

    score(s) = log PPL_A(s) / X(s),   X(s) = mean_t sum_v p_B(v | s_<t) * -log p_A(v | s_<t)

X is the cross-entropy of model A on what model B would have written at each position: how surprising a
machine continuation of the *same* prefix would be. Machine text scores below 1 times X; human text above.
Both orientations are computed from the same two forward passes (``score`` with A = the platform's scorer and B =
the second model, ``score_reversed`` with the roles swapped), because which one separates better depends on the
pair and is decided on left-out splits, never assumed.

The observer's pass also yields the mean-pooled last hidden state of each text, the input of the hidden-state
probe (``detect.probe``), so the probe costs no extra forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from detect.errors import DetectionError


@dataclass(frozen=True)
class BinocularsScore:
    """One text's two-model statistics (NaN when the text has fewer than two tokens). Lower = more machine-like."""

    tokens: int
    truncated: bool
    log_ppl: float  # scorer A's mean negative log-likelihood
    cross_entropy: float  # X(s): A's surprise at B's predictions
    score: float  # log_ppl / cross_entropy
    log_ppl_reversed: float  # the same with the roles of A and B swapped
    cross_entropy_reversed: float
    score_reversed: float


def same_tokenizer(first, second) -> bool:
    """True when both tokenizers map every string to the same id (the pair must agree token by token)."""
    return len(first) == len(second) and first.get_vocab() == second.get_vocab()


class BinocularsScorer:
    """Scores texts with two ``generator.LoadedModel`` objects sharing a tokenizer, in length-sorted batches."""

    def __init__(self, scorer_lm, second_lm, *, max_tokens: int = 512, batch_tokens: int = 4096) -> None:
        if not same_tokenizer(scorer_lm.tokenizer, second_lm.tokenizer):
            raise DetectionError(f"{second_lm.name} does not share the scorer's tokenizer ({scorer_lm.name})",
                                 hint="Binoculars needs two models with one vocabulary: distil the scorer "
                                      "(provenance model distill) or train a second model with its tokenizer")
        self.scorer_lm, self.second_lm = scorer_lm, second_lm
        self.tokenizer = scorer_lm.tokenizer
        self.max_tokens = min(max_tokens, int(scorer_lm.context_length), int(second_lm.context_length)) - 1
        self.batch_tokens = max(batch_tokens, self.max_tokens + 1)
        bos = self.tokenizer.bos_token_id
        self.bos_id = bos if bos is not None else self.tokenizer.eos_token_id

    @property
    def identity(self) -> str:
        """Everything that changes the numbers: both models' weights and the truncation length."""
        first = self.scorer_lm.weights_sha256 or self.scorer_lm.name
        second = self.second_lm.weights_sha256 or self.second_lm.name
        return (f"binoculars-v1|{first}|q={self.scorer_lm.quantized or 'none'}|{second}"
                f"|q={self.second_lm.quantized or 'none'}|max={self.max_tokens}")

    def _encode(self, text: str) -> tuple[list[int], bool]:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return [self.bos_id, *ids[: self.max_tokens]], len(ids) > self.max_tokens

    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        batches: list[list[int]] = []
        current: list[int] = []
        for index in order:
            if current and lengths[index] * (len(current) + 1) > self.batch_tokens:
                batches.append(current)
                current = []
            current.append(index)
        return [*batches, current] if current else batches

    @torch.inference_mode()
    def score(self, texts: Sequence[str], *, pooled: bool = False,
              progress: Callable[[int], None] | None = None) -> tuple[list[BinocularsScore], np.ndarray | None]:
        """Per-text scores in input order, and (with ``pooled``) the scorer's mean last hidden state per text."""
        encoded = [self._encode(text) for text in texts]
        results: list[BinocularsScore | None] = [None] * len(texts)
        width = int(self.scorer_lm.model.config.n_embd)
        states = np.full((len(texts), width), np.nan, dtype=np.float32) if pooled else None
        for batch in self._batches([len(ids) for ids, _ in encoded]):
            rows = [encoded[i][0] for i in batch]
            longest = max(len(ids) for ids in rows)
            input_ids = torch.full((len(rows), longest), self.bos_id, dtype=torch.long)
            attention = torch.zeros((len(rows), longest), dtype=torch.long)
            for row, ids in enumerate(rows):
                input_ids[row, : len(ids)] = torch.tensor(ids)
                attention[row, : len(ids)] = 1
            hidden = self.scorer_lm.model.transformer(input_ids=input_ids, attention_mask=attention).last_hidden_state
            second_hidden = self.second_lm.model.transformer(input_ids=input_ids,
                                                             attention_mask=attention).last_hidden_state
            for row, index in enumerate(batch):
                n = len(rows[row])
                if states is not None:
                    states[index] = hidden[row, 1:n].float().mean(0).numpy() if n > 1 else np.nan
                results[index] = self._one(hidden[row, : n - 1], second_hidden[row, : n - 1],
                                           input_ids[row, 1:n], encoded[index][1])
            if progress is not None:
                progress(len(batch))
        return [result for result in results if result is not None], states

    def _one(self, hidden: torch.Tensor, second_hidden: torch.Tensor, targets: torch.Tensor,
             truncated: bool) -> BinocularsScore:
        if targets.numel() < 2:
            nan = float("nan")
            return BinocularsScore(int(targets.numel()), truncated, nan, nan, nan, nan, nan, nan)
        log_a = torch.log_softmax(self.scorer_lm.model.lm_head(hidden).float(), dim=-1)
        log_b = torch.log_softmax(self.second_lm.model.lm_head(second_hidden).float(), dim=-1)
        nll_a = -log_a.gather(-1, targets[:, None]).mean().item()
        nll_b = -log_b.gather(-1, targets[:, None]).mean().item()
        cross_a = -(log_b.exp() * log_a).sum(-1).mean().item()  # A's surprise at B's guesses
        cross_b = -(log_a.exp() * log_b).sum(-1).mean().item()
        return BinocularsScore(int(targets.numel()), truncated, nll_a, cross_a, nll_a / cross_a,
                               nll_b, cross_b, nll_b / cross_b)
