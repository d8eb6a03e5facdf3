"""``WatermarkLogitsProcessor``: adds delta to the green logits of every batch row in one vectorised pass.

Unlike transformers' processor (a Python loop over rows with a fresh ``randperm(V)`` per row and step), the
green list here is a keyed hash compared with a threshold (``watermark.prf``), so the whole ``(B, V)`` mask is
a handful of elementwise integer ops on the logits' device, with no host synchronisation.

The unigram scheme has one fixed list, so its bias is a single cached ``(1, V)`` row added to the scores. Tokens
already present in the row (prompt or text so far) are not biased again: the detector counts each distinct token
once (a repeat repeats the same bit, so counting it would break the binomial null), so a repeat's bias buys no
evidence and only pushes a small model into loops on its favourite green tokens ("X X X X ..."), which also
leaves fewer distinct tokens to score. ``boost_repeats=True`` restores the plain scheme of the paper.

Rows whose context is not keyed (fewer than ``prefix_len`` tokens, or a special token such as end-of-text or
left padding among them) get no bias; the detector never scores such positions either.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import LogitsProcessor

from watermark.errors import WatermarkError
from watermark.keys import WatermarkKey
from watermark.prf import derive_material
from watermark.prf_torch import VocabTables, green_mask
from watermark.tokens import special_token_ids

CPU_BLOCK_ELEMENTS = 1 << 17  # 1 MiB of int64 per column block: fits a core's L2 cache


class WatermarkLogitsProcessor(LogitsProcessor):
    """Green-list watermark for ``generate``: ``scores[b, v] += delta`` for every green ``v`` of row ``b``."""

    def __init__(self, key: WatermarkKey, tokenizer: Any, *, boost_repeats: bool = False) -> None:
        if key.scheme == "hf-lefthash":
            raise WatermarkError("hf-lefthash is detection-only (it verifies text watermarked by transformers); "
                                 "generate with transformers' WatermarkingConfig, or use unigram/lefthash/selfhash")
        key.check_tokenizer(tokenizer)
        self.key_id = key.key_id
        self.boost_repeats = bool(boost_repeats)
        self.delta = key.delta
        self.gamma = key.gamma
        self._material = derive_material(key.secret, key.gamma, key.spec)
        self._prefix_len = key.spec.prefix_len
        self._special = special_token_ids(tokenizer)
        self._min_vocab = len(tokenizer)
        self._tables: dict[tuple[str, int], tuple[VocabTables, torch.Tensor]] = {}
        self._bias: dict[tuple[str, int, torch.dtype], torch.Tensor] = {}

    def __repr__(self) -> str:
        return f"WatermarkLogitsProcessor(key_id={self.key_id!r}, scheme={self._material.spec.name!r})"

    def _cached(self, device: torch.device, vocab_size: int) -> tuple[VocabTables, torch.Tensor]:
        """Hash tables and an is-special lookup table for this (device, vocabulary size), built once."""
        slot = (str(device), vocab_size)
        cached = self._tables.get(slot)
        if cached is None:
            is_special = torch.zeros(vocab_size, dtype=torch.bool, device=device)
            inside = [i for i in self._special if i < vocab_size]
            if inside:
                is_special[torch.tensor(inside, device=device)] = True
            cached = self._tables[slot] = (VocabTables(self._material, vocab_size, device), is_special)
        return cached

    def _fixed_bias(self, scores: torch.Tensor) -> torch.Tensor:
        """``delta`` on the unigram green list as a ``(1, V)`` row of the scores' dtype, built once per device."""
        slot = (str(scores.device), scores.shape[-1], scores.dtype)
        bias = self._bias.get(slot)
        if bias is None:
            tables, _ = self._cached(scores.device, scores.shape[-1])
            assert tables.fixed is not None
            bias = self._bias[slot] = (tables.fixed.view(torch.uint8).to(scores.dtype) * self.delta).unsqueeze(0)
        return bias

    def green_mask(self, input_ids: torch.LongTensor, vocab_size: int) -> torch.Tensor:
        """``(B, vocab_size)`` bool of the candidates this processor would bias (all False for unkeyed rows)."""
        batch = input_ids.shape[0]
        if self._prefix_len == 0:  # unigram: one fixed list, whatever the context, less the tokens already there
            tables, _ = self._cached(input_ids.device, vocab_size)
            assert tables.fixed is not None
            mask = tables.fixed.unsqueeze(0).expand(batch, vocab_size).clone()
            if not self.boost_repeats and input_ids.shape[-1]:
                mask.scatter_(1, input_ids, False)
            return mask
        if input_ids.shape[-1] < self._prefix_len:
            return torch.zeros((batch, vocab_size), dtype=torch.bool, device=input_ids.device)
        tables, is_special = self._cached(input_ids.device, vocab_size)
        context = input_ids[:, -self._prefix_len:]
        keyed = ~is_special[context].any(dim=1) if self._special else None
        block = CPU_BLOCK_ELEMENTS if input_ids.device.type == "cpu" else None
        return green_mask(self._material, context, tables, keyed=keyed, block_elements=block)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        vocab_size = scores.shape[-1]
        if vocab_size < self._min_vocab:
            raise WatermarkError(f"scores have {vocab_size} columns but the key's tokenizer has {self._min_vocab} "
                                 "tokens: this processor belongs to another model")
        if self._prefix_len == 0:  # unigram: one cached bias row, broadcast over the batch (no (B, V) mask)
            biased = scores + self._fixed_bias(scores)
            if not self.boost_repeats and input_ids.shape[-1]:
                # tokens already in the row keep their unbiased score: O(B x L), no (B, V) mask
                biased.scatter_(1, input_ids, scores.gather(1, input_ids))
            return biased
        if input_ids.shape[-1] < self._prefix_len:
            return scores
        # bool -> float casts take a slow scalar path on CPU (10x a float add); bool -> uint8 is a free view and
        # uint8 -> float is vectorised
        bias = self.green_mask(input_ids, vocab_size).view(torch.uint8).to(scores.dtype)
        return torch.add(scores, bias, alpha=self.delta)
