"""Template-grouped splits for PII evaluation: judge rules only on templates they were not developed on.

presidio-research data is made by filling templates with fake values, so what a rule can overfit to is the
*template* (the sentence around the values), not the values. A document's template skeleton is its text with
every gold span replaced by ``<TYPE>`` (adjacent spans of one type joined, as the scorer joins them), spaces
collapsed and lower-cased. Documents sharing a skeleton share a template; splits never separate them.

- ``group_kfold``: K folds over skeletons (each fold is scored by rules never tuned on it).
- ``unseen_templates``: documents of one file whose skeleton does not occur in another.
- ``protocol_splits``: the two splits of round three (issue 30), fixed before any rule of that round was written:
  *development* = generated_small.json (all of it: its documents were read in earlier rounds) plus the
  generated_large.json documents in template folds 0-3 (their errors were listed in earlier rounds); *untouched*
  = the generated_large.json documents in template fold ``UNTOUCHED_FOLD``. Fold membership is decided by a hash
  of each template skeleton (``group_kfold``), so no template of the untouched split occurs in development.
  Untouched documents are never printed or listed (``bench/pii_errors.py`` refuses them); they are looked at
  only through the aggregate figures of ``bench/pii_quality.py``.

Why a template fold rather than a hash of single documents: documents of one template differ only in their
fake values, so a document-level hash would put templates whose errors were read into the "untouched" set.

See ``docs/guides/pii.md`` and ``bench/README.md`` for the protocol these functions serve.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from detect.pii.evaluation import SKIP, Sample

_SPACES = re.compile(r"\s+")


def skeleton(sample: Sample) -> str:
    """The template a document was generated from: gold spans replaced by their type."""
    text = sample.text
    parts: list[str] = []
    position = 0
    last_type: str | None = None
    for span in sorted(sample.gold, key=lambda s: (s.start, s.end)):
        gap = text[position:span.start]
        label = span.label.upper()
        if label == last_type and all(ch in SKIP for ch in gap):
            position = max(position, span.end)
            continue
        parts.extend((gap, f"<{label}>"))
        position = max(position, span.end)
        last_type = label
    parts.append(text[position:])
    return _SPACES.sub(" ", "".join(parts)).strip().lower()


def _stable_hash(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode("utf-8")).digest()[:8], "big")


def group_kfold(samples: Sequence[Sample], k: int = 5) -> list[int]:
    """A fold number (0..k-1) per document; every document of one skeleton lands in the same fold.

    Deterministic: skeletons are ordered by a hash of their text, then each goes to the fold with the fewest
    documents so far, so folds are balanced in documents and independent of file order.
    """
    if k < 2:
        raise ValueError("group K-fold needs k >= 2")
    keys = [skeleton(s) for s in samples]
    sizes: dict[str, int] = {}
    for key in keys:
        sizes[key] = sizes.get(key, 0) + 1
    load = [0] * k
    fold_of: dict[str, int] = {}
    for key in sorted(sizes, key=lambda key: (-sizes[key], _stable_hash(key))):
        fold = min(range(k), key=lambda f: (load[f], f))
        fold_of[key] = fold
        load[fold] += sizes[key]
    return [fold_of[key] for key in keys]


def unseen_templates(samples: Sequence[Sample], seen: Iterable[Sample]) -> list[Sample]:
    """The documents of ``samples`` whose template skeleton occurs nowhere in ``seen``."""
    known = {skeleton(s) for s in seen}
    return [s for s in samples if skeleton(s) not in known]


FOLDS = 5
UNTOUCHED_FOLD = 4


def protocol_splits(large: Sequence[Sample], small: Sequence[Sample]) -> tuple[list[Sample], list[Sample]]:
    """(development, untouched) as defined in the module docstring: generated_large.json and generated_small.json
    in, development = small + large folds other than ``UNTOUCHED_FOLD``, untouched = large fold ``UNTOUCHED_FOLD``.
    """
    fold_of = group_kfold(large, FOLDS)
    development = [*small, *(s for s, f in zip(large, fold_of, strict=True) if f != UNTOUCHED_FOLD)]
    untouched = [s for s, f in zip(large, fold_of, strict=True) if f == UNTOUCHED_FOLD]
    return development, untouched
