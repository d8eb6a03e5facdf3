"""Green lists of transformers' ``WatermarkingConfig(seeding_scheme="lefthash")``, reproduced exactly.

transformers seeds a ``torch.Generator`` with ``(hashing_key * previous_token) % (2**64 - 1)`` and takes the
first ``int(vocab_size * greenlist_ratio)`` entries of ``torch.randperm(vocab_size)``. A Mersenne-Twister
Fisher-Yates shuffle cannot be vectorised, so this module calls the same torch routine (CPU generator: text
watermarked by transformers on a CUDA device used the CUDA generator and has other green lists) - but only
once per distinct previous token, not once per scored token: the list depends on nothing else, and an LRU cache
of bit-packed rows (V/8 bytes each, 64 MiB by default: every row of a 16k vocabulary, 10k of GPT-2's) serves
every later document.

The statistics are then done the platform's way: exact binomial p-values with gamma = greenlist_size / V,
real n-gram de-duplication, and no scoring of special tokens or padding.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

_SEED_MODULUS = 2**64 - 1


class HFLefthashGreenlists:
    """Membership tests against transformers' lefthash green lists for one (hashing_key, vocab_size, ratio)."""

    def __init__(self, hashing_key: int, vocab_size: int, greenlist_ratio: float,
                 cache_bytes: int = 64 << 20) -> None:
        import torch  # only this compatibility mode needs torch at detection time

        self._torch = torch
        self.hashing_key = int(hashing_key)
        self.vocab_size = int(vocab_size)
        self.greenlist_size = int(self.vocab_size * greenlist_ratio)
        self._generator = torch.Generator(device="cpu")
        self._rows: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # one generator and one cache, shared by every thread using the detector
        self._cache_rows = max(256, cache_bytes // max(1, (self.vocab_size + 7) // 8))  # 64 MiB: all of 16k vocab

    @property
    def effective_gamma(self) -> float:
        return self.greenlist_size / self.vocab_size

    def greenlist_ids(self, previous_token: int) -> np.ndarray:
        """The green token ids after ``previous_token``, in transformers' order."""
        self._generator.manual_seed((self.hashing_key * int(previous_token)) % _SEED_MODULUS)
        permutation = self._torch.randperm(self.vocab_size, generator=self._generator)
        return permutation[: self.greenlist_size].numpy()

    def _packed_row(self, previous_token: int) -> np.ndarray:
        with self._lock:
            return self._packed_row_locked(previous_token)

    def _packed_row_locked(self, previous_token: int) -> np.ndarray:
        row = self._rows.get(previous_token)
        if row is not None:
            self._rows.move_to_end(previous_token)
            return row
        mask = np.zeros(self.vocab_size, dtype=bool)
        mask[self.greenlist_ids(previous_token)] = True
        row = np.packbits(mask)
        self._rows[previous_token] = row
        if len(self._rows) > self._cache_rows:
            self._rows.popitem(last=False)
        return row

    def green_bits(self, ngrams: np.ndarray) -> np.ndarray:
        """Whether ``ngrams[:, 1]`` is green after ``ngrams[:, 0]``, for an ``(n, 2)`` array."""
        previous, tokens = ngrams[:, 0], ngrams[:, 1]
        out = np.zeros(len(tokens), dtype=bool)
        inside = (tokens >= 0) & (tokens < self.vocab_size)  # ids beyond the model's vocab are never green
        unique_previous, inverse = np.unique(previous, return_inverse=True)
        table = np.stack([self._packed_row(int(p)) for p in unique_previous]) if len(unique_previous) else None
        if table is None:
            return out
        byte = table[inverse[inside], tokens[inside] >> 3]
        out[inside] = (byte >> (7 - (tokens[inside] & 7))) & 1 == 1
        return out
