"""A persistent cache of per-text perplexity statistics, keyed by scorer identity and text hash.

The scorer's forward pass is the expensive part of detection on CPU. Training a bundle, evaluating it and
re-scanning a dump with a new bundle all need the same statistics for the same texts under the same
scorer, so they are computed once. The key includes everything that changes the numbers: the scorer's
weights hash and the scoring parameters (``PerplexityScorer.identity``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detect.perplexity import PerplexityScorer, PerplexityStats


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class StatisticsCache:
    """SQLite file of (scorer identity, text sha256) -> statistics JSON. Safe to delete at any time."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS stats (scorer TEXT, text_sha256 TEXT, stats TEXT, "
            "PRIMARY KEY (scorer, text_sha256))"
        )
        # Pooled hidden states (the probe's input), float16 bytes: a separate table, so caches written before
        # the probe existed keep their statistics and only the states are computed again when needed.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS states (scorer TEXT, text_sha256 TEXT, state BLOB, "
            "PRIMARY KEY (scorer, text_sha256))"
        )

    def _select(self, query: str, scorer: str, keys: Sequence[str]) -> Iterator[tuple[str, Any]]:
        """(key, value) rows of ``query`` (``... IN ({marks})``) for ``keys``, in chunks SQLite accepts."""
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start: start + 500]
            yield from self._db.execute(query.format(marks=",".join("?" * len(chunk))), [scorer, *chunk])

    def get_many(self, scorer: str, keys: Sequence[str]) -> dict[str, PerplexityStats]:
        rows = self._select("SELECT text_sha256, stats FROM stats WHERE scorer = ? AND text_sha256 IN ({marks})",
                            scorer, keys)
        return {key: PerplexityStats(**json.loads(payload)) for key, payload in rows}

    def get_states(self, scorer: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        rows = self._select("SELECT text_sha256, state FROM states WHERE scorer = ? AND text_sha256 IN ({marks})",
                            scorer, keys)
        return {key: np.frombuffer(blob, dtype=np.float16).astype(np.float32) for key, blob in rows}

    def put_states(self, scorer: str, items: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO states VALUES (?, ?, ?)",
                                 [(scorer, key, np.asarray(state, dtype=np.float16).tobytes())
                                  for key, state in items.items()])

    def put_many(self, scorer: str, items: dict[str, PerplexityStats]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO stats VALUES (?, ?, ?)",
                [(scorer, key, json.dumps(stats.as_dict())) for key, stats in items.items()],
            )

    def close(self) -> None:
        self._db.close()


def cached_statistics(scorer: PerplexityScorer, texts: Sequence[str], cache: StatisticsCache | None,
                      progress: Callable[[int], None] | None = None,
                      chunk_size: int = 256) -> list[PerplexityStats]:
    """Statistics for ``texts``: cached ones read back, the rest computed in chunks and stored."""
    return cached_statistics_and_states(scorer, texts, cache, progress, chunk_size, states=False)[0]


def cached_statistics_and_states(scorer: PerplexityScorer, texts: Sequence[str], cache: StatisticsCache | None,
                                 progress: Callable[[int], None] | None = None, chunk_size: int = 256, *,
                                 states: bool = True) -> tuple[list[PerplexityStats], np.ndarray | None]:
    """Statistics (and, with ``states``, pooled hidden states) for ``texts``, computing only what is missing."""
    if cache is None:
        stats, pooled = scorer.statistics_and_states(texts, progress)
        return stats, pooled if states else None
    identity = scorer.identity
    keys = [text_key(text) for text in texts]
    known = cache.get_many(identity, keys)
    known_states = cache.get_states(identity, keys) if states else {}
    first_index: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in known or (states and key not in known_states):
            first_index.setdefault(key, i)  # a text repeated in the batch is scored once
    missing = list(first_index.values())
    for start in range(0, len(missing), chunk_size):
        indices = missing[start: start + chunk_size]
        stats, pooled = scorer.statistics_and_states([texts[i] for i in indices], progress)
        fresh = {keys[i]: value for i, value in zip(indices, stats, strict=True)}
        cache.put_many(identity, fresh)
        known.update(fresh)
        if states:  # written only when asked for: a scan with a probe-free bundle does no extra I/O
            fresh_states = {keys[i]: pooled[row] for row, i in enumerate(indices)}
            cache.put_states(identity, fresh_states)
            known_states.update(fresh_states)
    if not states:
        return [known[key] for key in keys], None
    width = max((state.size for state in known_states.values()), default=0)
    matrix = np.full((len(keys), width), np.nan, dtype=np.float32)
    for row, key in enumerate(keys):
        if known_states[key].size == width:
            matrix[row] = known_states[key]
    return [known[key] for key in keys], matrix
