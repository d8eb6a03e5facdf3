"""Which token positions are scored, and de-duplication of repeated n-grams (numpy, batched over documents).

A position is *keyed* when it is past the prompt, at least ``prefix_len`` tokens into its document, neither it
nor any of its ``prefix_len`` context tokens is special, and it is the first occurrence of its n-gram (context
plus token) in the document. Repeats are dropped because a repeated n-gram repeats the same green bit: counting
it again would add dependent evidence and break the binomial null (the paper's "ignore repeated n-grams").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

GreenFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class BatchScores:
    """Per-token results for documents concatenated end to end (``doc_starts`` delimit them)."""

    ids: np.ndarray
    doc_starts: np.ndarray  # len = docs + 1
    scored: np.ndarray  # bool per token: counted in the test
    green: np.ndarray  # bool per token: green (meaningful only where scored)

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(scored, green) totals per document."""
        docs = len(self.doc_starts) - 1
        owner = np.repeat(np.arange(docs), np.diff(self.doc_starts))
        scored = np.bincount(owner[self.scored], minlength=docs)
        green = np.bincount(owner[self.scored & self.green], minlength=docs)
        return scored, green


def _pack(columns: list[np.ndarray], widths: list[int]) -> np.ndarray:
    packed = np.zeros(len(columns[0]), dtype=np.uint64)
    for column, width in zip(columns, widths, strict=True):
        packed = (packed << np.uint64(width)) | column.astype(np.uint64)
    return packed


def _first_occurrences(rows: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Bool mask over ``rows``: True for the first occurrence of each (owner, row) pair.

    Exact: the (owner, token ids) tuple is packed losslessly into one uint64 when it fits (4 x 16 bits covers
    GPT-2's 50,257 tokens) and stably sorted, so "first" means first in reading order; wider tuples fall back to
    a lexicographic sort of the columns.
    """
    if len(rows) == 0:
        return np.zeros(0, dtype=bool)
    token_bits = max(1, int(rows.max()).bit_length())
    owner_bits = int(owner[-1]).bit_length()  # owners are non-decreasing
    width = rows.shape[1]
    columns = [rows[:, col] for col in range(width)]
    if width * token_bits + owner_bits <= 64:
        keys = [_pack([owner, *columns], [owner_bits, *([token_bits] * width)])]
    elif width * token_bits <= 64:
        keys = [_pack(columns, [token_bits] * width), owner]
    else:
        keys = [*columns[::-1], owner]
    order = np.argsort(keys[0], kind="stable") if len(keys) == 1 else np.lexsort(keys)  # both stable
    new_group = np.zeros(len(rows), dtype=bool)
    new_group[0] = True
    for key in keys:
        ordered = key[order]
        new_group[1:] |= ordered[1:] != ordered[:-1]
    first = np.zeros(len(rows), dtype=bool)
    first[order[new_group]] = True
    return first


def _is_special(ids: np.ndarray, special_ids: np.ndarray) -> np.ndarray:
    if len(special_ids) <= 8:  # the usual case (one or two ids): comparisons beat np.isin's sort
        out = np.zeros(len(ids), dtype=bool)
        for special in special_ids.tolist():
            out |= ids == special
        return out
    return np.isin(ids, special_ids)


def score_batch(
    documents: Sequence[np.ndarray],
    green_fn: GreenFn,
    prefix_len: int,
    special_ids: np.ndarray,
    prompt_lengths: Sequence[int] | None = None,
    dedupe: bool = True,
) -> BatchScores:
    """Score every document in one vectorised pass: keyed positions, de-duplication, green bits."""
    lengths = np.fromiter((len(doc) for doc in documents), dtype=np.int64, count=len(documents))
    doc_starts = np.concatenate(([0], np.cumsum(lengths)))
    if len(documents) == 1:
        ids = np.asarray(documents[0], dtype=np.int64)
    else:
        ids = np.concatenate([np.asarray(doc, dtype=np.int64) for doc in documents]) if len(documents) else \
            np.zeros(0, dtype=np.int64)
    total = len(ids)
    scored = np.zeros(total, dtype=bool)
    green = np.zeros(total, dtype=bool)
    if total <= prefix_len:
        return BatchScores(ids, doc_starts, scored, green)
    prompts = np.zeros(len(documents), dtype=np.int64) if prompt_lengths is None else \
        np.asarray(prompt_lengths, dtype=np.int64)
    special_before = np.concatenate(([0], np.cumsum(_is_special(ids, special_ids))))
    keyed = np.zeros(total, dtype=bool)
    # tokens in [i - prefix_len, i] are all non-special
    keyed[prefix_len:] = special_before[prefix_len + 1:] == special_before[: total - prefix_len]
    if len(documents) == 1:
        owner = np.zeros(total, dtype=np.int64)
        keyed[: max(prefix_len, int(prompts[0]))] = False
    else:
        owner = np.repeat(np.arange(len(documents)), lengths)
        keyed &= np.arange(total) - doc_starts[owner] >= np.maximum(prefix_len, prompts[owner])
    positions = np.flatnonzero(keyed)
    rows = ids[positions[:, None] + np.arange(-prefix_len, 1)]
    if dedupe:
        first = _first_occurrences(rows, owner[positions])
        positions, rows = positions[first], rows[first]
    scored[positions] = True
    green[positions] = green_fn(rows)
    return BatchScores(ids, doc_starts, scored, green)
