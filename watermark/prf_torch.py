"""The green-list PRF of ``watermark.prf`` in torch, for the logits processor.

Same definitions, expressed with int64 tensors: multiplication wraps mod 2**64 on CPU and CUDA alike, xor is
bitwise, and because ``>>`` on a negative int64 is an arithmetic shift every right shift is followed by a
mask that clears the sign-extended bits (a logical shift). The per-vocabulary hashes are computed once per
(device, vocabulary size) and cached; per generation step only the B context seeds are new, and one
``(B, V)`` pass decides every candidate of every row.
"""

from __future__ import annotations

import torch

from watermark.prf import PAIR_P1, PAIR_P2, SPLITMIX_C1, SPLITMIX_C2, KeyMaterial, to_signed64

_C1 = to_signed64(SPLITMIX_C1)
_C2 = to_signed64(SPLITMIX_C2)
_P1 = to_signed64(PAIR_P1)
_P2 = to_signed64(PAIR_P2)


def logical_shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    return torch.bitwise_and(torch.bitwise_right_shift(x, bits), (1 << (64 - bits)) - 1)


def mix64(x: torch.Tensor) -> torch.Tensor:
    x = torch.bitwise_xor(x, logical_shift_right(x, 30))
    x = x * _C1
    x = torch.bitwise_xor(x, logical_shift_right(x, 27))
    x = x * _C2
    return torch.bitwise_xor(x, logical_shift_right(x, 31))


def keyed_hash(tokens: torch.Tensor, subkey: int) -> torch.Tensor:
    return mix64(torch.bitwise_xor(tokens.to(torch.int64), to_signed64(subkey)))


def decide_(x: torch.Tensor, threshold: int | torch.Tensor, scratch: torch.Tensor, out: torch.Tensor) -> None:
    """Green bits of combined words ``x`` into ``out``; ``x`` and ``scratch`` are overwritten (no allocation)."""
    x.mul_(_P1)
    torch.bitwise_right_shift(x, 31, out=scratch)
    scratch.bitwise_and_((1 << 33) - 1)
    x.bitwise_xor_(scratch)
    x.mul_(_P2)
    torch.lt(x, threshold, out=out)


class VocabTables:
    """Every per-token hash for token ids ``0..V-1`` on one device, computed once: a generation step then only
    gathers its context rows' hashes (a handful of kernel launches instead of dozens, which is what batch-1
    decoding pays for) and runs the ``(B, V)`` decision."""

    def __init__(self, material: KeyMaterial, vocab_size: int, device: torch.device) -> None:
        ids = torch.arange(vocab_size, dtype=torch.int64, device=device)
        self.vocab = keyed_hash(ids, material.k_vocab)
        self.fixed: torch.Tensor | None = None  # unigram: the one green list, decided once
        if material.spec.prefix_len == 0:
            self.minh = self.anchor = self.context = None
            words = torch.bitwise_xor(self.vocab, to_signed64(material.k_ctx))
            self.fixed = torch.empty(vocab_size, dtype=torch.bool, device=device)
            decide_(words, material.threshold, torch.empty_like(words), self.fixed)
        elif material.spec.self_salted:
            self.minh: torch.Tensor | None = logical_shift_right(keyed_hash(ids, material.k_min), 1)
            self.anchor: torch.Tensor | None = keyed_hash(ids, material.k_anchor)
            self.context: torch.Tensor | None = None
        else:
            self.minh = self.anchor = None
            self.context = keyed_hash(ids, material.k_ctx)


NEVER = -(1 << 63)  # a threshold no int64 is below: rows without a keyed context get no green tokens


def green_mask(material: KeyMaterial, context: torch.Tensor, tables: VocabTables, *,
               keyed: torch.Tensor | None = None, block_elements: int | None = None) -> torch.Tensor:
    """``(B, V)`` bool: green candidates after each row of ``context`` (``(B, prefix_len)`` token ids, all below
    V: they are ids the model embedded).

    ``keyed`` (B bools) switches rows off through their threshold, at no extra pass. ``block_elements`` splits
    the vocabulary into column blocks of about that many elements so the int64 intermediates stay in the CPU's
    cache (2.5x faster at 16 x 50,257); GPUs take the whole matrix at once.
    """
    batch, vocab_size = context.shape[0], tables.vocab.shape[0]
    if tables.fixed is not None:  # unigram: no per-row work at all
        rows = tables.fixed.unsqueeze(0).expand(batch, vocab_size)
        return rows & keyed.unsqueeze(1) if keyed is not None else rows.clone()
    threshold: int | torch.Tensor = material.threshold
    if keyed is not None:
        threshold = torch.where(keyed, material.threshold, NEVER).unsqueeze(1)
    if material.spec.self_salted:
        assert tables.minh is not None and tables.anchor is not None
        window_min = tables.minh[context].amin(dim=1, keepdim=True)
        anchor = tables.anchor[context[:, :1]]
    else:
        assert tables.context is not None
        seed = tables.context[context[:, -1:]]
    width = vocab_size if not block_elements else max(1024, block_elements // max(batch, 1))
    width = min(width, vocab_size)
    out = torch.empty((batch, vocab_size), dtype=torch.bool, device=context.device)
    words = torch.empty((batch, width), dtype=torch.int64, device=context.device)
    scratch = torch.empty_like(words)
    for begin in range(0, vocab_size, width):
        end = min(vocab_size, begin + width)
        whole = begin == 0 and end == vocab_size  # one block: skip the slicing (batch-1 steps are launch-bound)
        x, tmp = (words, scratch) if whole else (words[:, : end - begin], scratch[:, : end - begin])
        vocab = tables.vocab if whole else tables.vocab[begin:end]
        if material.spec.self_salted:
            torch.minimum(tables.minh if whole else tables.minh[begin:end], window_min, out=x)
            x.bitwise_xor_(anchor)
            x.bitwise_xor_(vocab)
        else:
            torch.bitwise_xor(seed, vocab, out=x)
        decide_(x, threshold, tmp, out if whole else out[:, begin:end])
    return out
