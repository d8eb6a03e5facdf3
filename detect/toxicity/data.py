"""Labelled toxicity data: ``{"text", "label": "toxic"|"non_toxic", "categories": [...], "source", "split"?}``.

Why a reader of its own: the toxicity files differ from the machine-text files (labels, categories, one
source per file), and training needs to know the *source* of each row, because "toxic" means different
things in different sources and the card reports cross-source metrics. Exact duplicate texts (after
normalisation) are kept once so no text sits on both sides of a cross-validation split.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detect.errors import DetectionError
from detect.toxicity.normalize import normalize_toxicity

LABELS = {"toxic": 1, "non_toxic": 0}
# Category names in the data -> the short names the platform reports. ToxiGen's implicit hate is hate; Civil
# Comments' toxic-span posts are rude or insulting comments, i.e. offensive. "target:<group>" names whom a row
# is about: it goes to ``targets`` (for the per-group bias tables), never to the reported categories.
CATEGORY_ALIASES = {"hate_speech": "hate", "implicit_hate": "hate", "offensive_language": "offensive",
                    "has_toxic_span": "offensive", "no_toxic_span_marked": "offensive"}
TARGET_PREFIX = "target:"


@dataclass(frozen=True)
class ToxicityRow:
    text: str  # raw text as in the file
    features_text: str  # normalised (what the model sees)
    label: int  # 1 toxic, 0 non-toxic
    categories: tuple[str, ...]
    source: str
    targets: tuple[str, ...] = ()  # groups the row is about, where the source says ("target:<group>")


@dataclass
class ToxicityData:
    rows: list[ToxicityRow]
    rejected: list[str] = field(default_factory=list)
    duplicates_dropped: int = 0
    fingerprint: str = ""

    @property
    def labels(self) -> np.ndarray:
        return np.array([row.label for row in self.rows], dtype=np.int64)

    @property
    def sources(self) -> np.ndarray:
        return np.array([row.source for row in self.rows])

    @property
    def features_texts(self) -> list[str]:
        return [row.features_text for row in self.rows]

    def categories(self) -> list[str]:
        return sorted({name for row in self.rows for name in row.categories})

    def summary(self) -> dict[str, Any]:
        by_source: dict[str, dict[str, int]] = {}
        for row in self.rows:
            entry = by_source.setdefault(row.source, {"toxic": 0, "non_toxic": 0})
            entry["toxic" if row.label else "non_toxic"] += 1
        return {"texts": len(self.rows), "toxic": int(self.labels.sum()),
                "non_toxic": int((self.labels == 0).sum()), "sources": by_source,
                "categories": dict(Counter(name for row in self.rows for name in row.categories)),
                "duplicates_dropped": self.duplicates_dropped, "rejected": len(self.rejected),
                "fingerprint": self.fingerprint}


def _parse(record: Any, default_source: str) -> tuple[str, int, tuple[str, ...], str, tuple[str, ...]]:
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise ValueError('expected an object with a string "text"')
    label = record.get("label")
    if label not in LABELS:
        raise ValueError(f'"label" must be "toxic" or "non_toxic", got {label!r}')
    raw_categories = record.get("categories") or []
    if not isinstance(raw_categories, list) or not all(isinstance(c, str) for c in raw_categories):
        raise ValueError('"categories" must be a list of strings')
    targets = tuple(sorted(c[len(TARGET_PREFIX):] for c in raw_categories if c.startswith(TARGET_PREFIX)))
    names = {CATEGORY_ALIASES.get(c, c) for c in raw_categories if not c.startswith(TARGET_PREFIX)}
    categories = tuple(sorted(names)) if LABELS[label] else ()
    source = record.get("source") if isinstance(record.get("source"), str) else default_source
    return record["text"], LABELS[label], categories, source, targets


def read_toxicity_data(paths: Sequence[Path], *, max_per_source: int | None = None, seed: int = 0) -> ToxicityData:
    """Read, validate, normalise and de-duplicate; ``max_per_source`` takes a stratified sample per source
    (quick bundles for the demo and tests). Bad lines are collected, never fatal, unless nothing is left."""
    rows: list[ToxicityRow] = []
    rejected: list[str] = []
    seen: set[str] = set()
    duplicates = 0
    digest = hashlib.sha256()
    for path in paths:
        if not Path(path).is_file():
            raise DetectionError(f"toxicity data file {path} does not exist",
                                 hint="pass JSONL files of {text, label: toxic|non_toxic, categories?, source?}")
        with Path(path).open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                digest.update(raw.rstrip(b"\n") + b"\n")
                try:
                    text, label, categories, source, targets = _parse(json.loads(raw.decode("utf-8")), Path(path).stem)
                except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
                    rejected.append(f"{path}:{number}: {exc}")
                    continue
                normalised = normalize_toxicity(text).text
                if not normalised:
                    rejected.append(f"{path}:{number}: no words left after normalisation")
                    continue
                if normalised in seen:
                    duplicates += 1
                    continue
                seen.add(normalised)
                rows.append(ToxicityRow(text, normalised, label, categories, source, targets))
    if max_per_source is not None:
        rows = _stratified_sample(rows, max_per_source, seed)
    labels = {row.label for row in rows}
    if labels != {0, 1}:
        raise DetectionError(f"toxicity data needs toxic and non-toxic texts; found {len(rows)} usable rows "
                             f"with labels {sorted(labels)} ({len(rejected)} lines rejected)",
                             hint=rejected[0] if rejected else "add labelled rows of both classes")
    return ToxicityData(rows=rows, rejected=rejected, duplicates_dropped=duplicates,
                        fingerprint=digest.hexdigest())


def _stratified_sample(rows: list[ToxicityRow], per_source: int, seed: int) -> list[ToxicityRow]:
    """Up to ``per_source`` rows per source with each label's share kept (at least a few of each)."""
    rng = np.random.default_rng(seed)
    picked: list[int] = []
    sources = sorted({row.source for row in rows})
    for source in sources:
        members = [i for i, row in enumerate(rows) if row.source == source]
        if len(members) <= per_source:
            picked.extend(members)
            continue
        for label in (0, 1):
            pool = [i for i in members if rows[i].label == label]
            share = max(round(per_source * len(pool) / len(members)), min(len(pool), 20))
            picked.extend(rng.choice(pool, size=min(share, len(pool)), replace=False).tolist())
    return [rows[i] for i in sorted(picked)]
