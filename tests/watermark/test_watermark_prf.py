"""The green-list PRF: numpy (detector) and torch (processor) agree bit for bit, and the lists behave as specified."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.watermark.support import SECRET_A, SECRET_B
from watermark.prf import MASK64, PAIR_P1, PAIR_P2, SPLITMIX_C1, SPLITMIX_C2, derive_material, green_bits, green_table
from watermark.prf_torch import VocabTables, green_mask
from watermark.schemes import LEFTHASH, SELFHASH

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _torch_table(material, context: np.ndarray, vocab: int, device: str) -> np.ndarray:
    tables = VocabTables(material, vocab, torch.device(device))
    return green_mask(material, torch.tensor(context, device=device), tables).cpu().numpy()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("spec", [LEFTHASH, SELFHASH], ids=["lefthash", "selfhash"])
def test_numpy_and_torch_green_masks_are_identical(spec, device):
    material = derive_material(SECRET_A, 0.25, spec)
    rng = np.random.default_rng(1)
    vocab = 50257
    context = rng.integers(0, vocab, size=(12, spec.prefix_len))
    context[0] = vocab - 1  # extreme ids
    context[1] = 0
    expected = green_table(material, context, vocab)
    assert np.array_equal(expected, _torch_table(material, context, vocab, device))


def _py_mix(x: int) -> int:
    x ^= x >> 30
    x = (x * SPLITMIX_C1) & MASK64
    x ^= x >> 27
    x = (x * SPLITMIX_C2) & MASK64
    return x ^ (x >> 31)


def test_definition_matches_a_pure_python_reference():
    """The documented formula, in arbitrary-precision Python ints, gives the same bits as the numpy code."""
    rng = np.random.default_rng(2)
    for spec in (LEFTHASH, SELFHASH):
        material = derive_material(SECRET_B, 0.3, spec)
        ngrams = rng.integers(0, 60000, size=(300, spec.ngram_len))
        fast = green_bits(material, ngrams)
        for row, bit in zip(ngrams.tolist(), fast.tolist(), strict=True):
            token = row[-1]
            if spec.self_salted:
                minimum = min(_py_mix(t ^ material.k_min) >> 1 for t in row)
                seed = _py_mix(row[0] ^ material.k_anchor) ^ minimum
            else:
                seed = _py_mix(row[-2] ^ material.k_ctx)
            x = seed ^ _py_mix(token ^ material.k_vocab)
            x = (x * PAIR_P1) & MASK64
            x ^= x >> 31
            x = (x * PAIR_P2) & MASK64
            signed = x - (1 << 64) if x >= 1 << 63 else x
            assert (signed < material.threshold) == bit


@pytest.mark.parametrize("gamma", [0.1, 0.25, 0.5])
def test_green_fraction_is_gamma(gamma):
    material = derive_material(SECRET_A, gamma, SELFHASH)
    table = green_table(material, np.random.default_rng(3).integers(0, 50000, size=(20, 3)), 8192)
    sigma = np.sqrt(gamma * (1 - gamma) / table.size)
    assert abs(table.mean() - gamma) < 5 * sigma


def test_lists_depend_on_secret_and_scheme_and_context():
    context = np.array([[11, 22, 33]])
    a = green_table(derive_material(SECRET_A, 0.25, SELFHASH), context, 4096)
    b = green_table(derive_material(SECRET_B, 0.25, SELFHASH), context, 4096)
    c = green_table(derive_material(SECRET_A, 0.25, SELFHASH), np.array([[12, 22, 33]]), 4096)  # new anchor
    left = green_table(derive_material(SECRET_A, 0.25, LEFTHASH), context[:, -1:], 4096)
    for other in (b, c, left):
        overlap = (a & other).sum() / a.sum()
        assert 0.18 < overlap < 0.32  # independent lists share ~gamma of their members


def test_lefthash_depends_only_on_the_previous_token():
    material = derive_material(SECRET_A, 0.25, LEFTHASH)
    tables = VocabTables(material, 512, torch.device("cpu"))
    masks = green_mask(material, torch.tensor([[5], [5], [6]]), tables)
    assert torch.equal(masks[0], masks[1]) and not torch.equal(masks[0], masks[2])


def test_selfhash_is_anchored_min_hash_over_window_including_candidate():
    """Seed = anchor(left-most) xor min(window incl. candidate): permuting the non-anchor context tokens, which
    keeps both the anchor and the window's minimum, leaves every decision unchanged; changing the anchor does not."""
    material = derive_material(SECRET_A, 0.25, SELFHASH)
    base = green_table(material, np.array([[10, 20, 30]]), 3000)
    permuted = green_table(material, np.array([[10, 30, 20]]), 3000)
    assert np.array_equal(base, permuted)
    other_anchor = green_table(material, np.array([[20, 10, 30]]), 3000)
    assert not np.array_equal(base, other_anchor)


def test_threshold_extremes():
    tiny = derive_material(SECRET_A, 1e-9, LEFTHASH)
    huge = derive_material(SECRET_A, 1 - 1e-9, LEFTHASH)
    ctx = np.array([[3]])
    assert green_table(tiny, ctx, 5000).sum() <= 1
    assert green_table(huge, ctx, 5000).sum() >= 4999
