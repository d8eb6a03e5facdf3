"""The keyed green-list PRF of the native schemes, in numpy (the detector's hot path).

Every green decision is a pure function of (key, n-gram): 64-bit integer hashing only, no random generator
state, so a whole batch and the whole vocabulary are decided in one vectorised pass, and numpy, torch-CPU and
torch-CUDA agree bit for bit (``watermark.prf_torch`` mirrors this file; a test checks they agree).

Definitions (all arithmetic mod 2**64, ``>>>`` a logical shift):

- ``mix(x)``: the splitmix64 finaliser, a bijection with full avalanche.
- token hashes: ``vocab(t) = mix(t ^ k_vocab)``, ``ctx(t) = mix(t ^ k_ctx)``, ``anchor(t) = mix(t ^ k_anchor)``,
  ``minh(t) = mix(t ^ k_min) >>> 1`` (63 bits, so a signed int64 minimum equals the unsigned one).
- seed of a position: unigram the constant ``k_ctx`` (one fixed list); lefthash ``ctx(previous token)``;
  selfhash over the window ``(a, b, c, v)`` of three
  preceding tokens and the candidate ``v``: ``anchor(a) ^ min(minh(a), minh(b), minh(c), minh(v))``.
- decision: ``x = seed ^ vocab(v)``; ``x *= P1; x ^= x >>> 31; x *= P2``; ``v`` is green iff ``x``, read as a signed
  int64, is below ``-2**63 + round(gamma * 2**64)``, i.e. ``x`` (unsigned) falls in the lowest gamma fraction
  after a sign flip. The comparison is on the top bits of a product, which depend on every input bit.

The four 64-bit sub-keys come from HMAC-SHA256(secret, scheme name), so lefthash and selfhash lists made from
one secret are independent, and nothing about the secret can be read back from green lists.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np

from watermark.schemes import SchemeSpec

MASK64 = (1 << 64) - 1
SPLITMIX_C1 = 0xBF58476D1CE4E5B9
SPLITMIX_C2 = 0x94D049BB133111EB
PAIR_P1 = 0x9E3779B97F4A7C15
PAIR_P2 = 0xD6E8FEB86659FD93
_DERIVATION_LABEL = b"gpt2-provenance/watermark/prf/v1/"


def to_signed64(value: int) -> int:
    """The int64 with the same 64 bits as the unsigned ``value`` (torch has no uint64 arithmetic)."""
    value &= MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True)
class KeyMaterial:
    """Sub-keys and threshold derived from a key; unsigned ints (numpy) and their signed twins (torch)."""

    k_ctx: int
    k_vocab: int
    k_min: int
    k_anchor: int
    threshold: int  # signed int64: green iff mixed value < threshold
    spec: SchemeSpec

    def __repr__(self) -> str:  # the sub-keys are as secret as the key itself
        return f"KeyMaterial(scheme={self.spec.name!r})"


def derive_material(secret: bytes, gamma: float, spec: SchemeSpec) -> KeyMaterial:
    digest = hmac.new(secret, _DERIVATION_LABEL + spec.name.encode("ascii"), hashlib.sha256).digest()
    k_ctx, k_vocab, k_min, k_anchor = (int.from_bytes(digest[i:i + 8], "little") for i in range(0, 32, 8))
    green_span = min(max(round(gamma * 2.0**64), 1), (1 << 64) - 1)
    return KeyMaterial(k_ctx, k_vocab, k_min, k_anchor, green_span - (1 << 63), spec)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (numpy wraps uint64 arithmetic mod 2**64 silently)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(SPLITMIX_C1)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(SPLITMIX_C2)
    return x ^ (x >> np.uint64(31))


def keyed_hash(tokens: np.ndarray, subkey: int) -> np.ndarray:
    return mix64(np.asarray(tokens).astype(np.uint64) ^ np.uint64(subkey))


def decide(x: np.ndarray, threshold: int) -> np.ndarray:
    """Green bits from combined seed/token words (uint64)."""
    x = x * np.uint64(PAIR_P1)
    x = x ^ (x >> np.uint64(31))
    x = x * np.uint64(PAIR_P2)
    return x.view(np.int64) < threshold


def seeds(material: KeyMaterial, ngrams: np.ndarray) -> np.ndarray:
    """uint64 seed of each n-gram row (context tokens followed by the scored token)."""
    if material.spec.self_salted:
        minimum = keyed_hash(ngrams, material.k_min) >> np.uint64(1)
        return keyed_hash(ngrams[:, 0], material.k_anchor) ^ minimum.min(axis=1)
    if material.spec.prefix_len == 0:  # unigram: the same seed everywhere, so one fixed green list
        return np.full(len(ngrams), material.k_ctx, dtype=np.uint64)
    return keyed_hash(ngrams[:, -2], material.k_ctx)


def green_bits(material: KeyMaterial, ngrams: np.ndarray) -> np.ndarray:
    """Whether the last token of each row of ``ngrams`` (shape ``(n, prefix_len + 1)``) is green."""
    ngrams = np.asarray(ngrams, dtype=np.int64)
    if ngrams.ndim != 2 or ngrams.shape[1] != material.spec.ngram_len:
        raise ValueError(f"expected n-grams of shape (n, {material.spec.ngram_len}), got {ngrams.shape}")
    if len(ngrams) == 0:
        return np.zeros(0, dtype=bool)
    return decide(seeds(material, ngrams) ^ keyed_hash(ngrams[:, -1], material.k_vocab), material.threshold)


def fixed_green_list(material: KeyMaterial, vocab_size: int) -> np.ndarray:
    """``(vocab_size,)`` bool: the unigram scheme's one green list (the same after every context)."""
    if material.spec.prefix_len != 0:
        raise ValueError(f"scheme {material.spec.name!r} has no fixed green list (its lists depend on context)")
    return green_bits(material, np.arange(vocab_size, dtype=np.int64)[:, None])


def green_table(material: KeyMaterial, context: np.ndarray, vocab_size: int) -> np.ndarray:
    """``(len(context), vocab_size)`` green mask for every candidate after each context row (tests, analysis)."""
    context = np.asarray(context, dtype=np.int64).reshape(len(context), material.spec.prefix_len)
    candidates = np.arange(vocab_size, dtype=np.int64)
    rows = np.repeat(context, vocab_size, axis=0)
    ngrams = np.concatenate([rows, np.tile(candidates, len(context))[:, None]], axis=1)
    return green_bits(material, ngrams).reshape(len(context), vocab_size)
