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
from collections.abc import Callable, Sequence
from pathlib import Path

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

    def get_many(self, scorer: str, keys: Sequence[str]) -> dict[str, PerplexityStats]:
        found: dict[str, PerplexityStats] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start: start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT text_sha256, stats FROM stats WHERE scorer = ? AND text_sha256 IN ({marks})",
                [scorer, *chunk],
            )
            for key, payload in rows:
                found[key] = PerplexityStats(**json.loads(payload))
        return found

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
    if cache is None:
        return scorer.statistics(texts, progress)
    identity = scorer.identity
    keys = [text_key(text) for text in texts]
    known = cache.get_many(identity, keys)
    first_index: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in known:
            first_index.setdefault(key, i)  # a text repeated in the batch is scored once
    missing = list(first_index.values())
    for start in range(0, len(missing), chunk_size):
        indices = missing[start: start + chunk_size]
        stats = scorer.statistics([texts[i] for i in indices], progress)
        fresh = {keys[i]: value for i, value in zip(indices, stats, strict=True)}
        cache.put_many(identity, fresh)
        known.update(fresh)
    return [known[key] for key in keys]
