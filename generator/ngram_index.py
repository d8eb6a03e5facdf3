"""The training-text index a trainer writes: a Bloom filter of hashed word n-grams, with its card beside it.

The trainer owns what it trained on, so the index of that text is built here, on the generator side, by
``write_model_index`` (the trainers call it through their ``index_writer``; the application passes a signing
``seal``). Reading an index back, checking it against its card and signature and refusing a lying one is the
guard's job (``detect.ngram_index``, ``detect.memorisation``), one floor up.

* **Card.** Whoever writes an index writes ``<index>.json`` beside it: the index file's SHA-256, its n-gram
  size, hash count, bit and item counts, and what it indexes (scorer weights SHA-256, corpus fingerprint,
  documents).
* **Signature.** ``save_with_card(..., seal=)`` lets the application sign card and index together
  (``<index>.sig.json``); this layer holds no key.
* **Hashing.** blake2b per lower-cased word, combined polynomially over n words, then splitmix64: stable across
  processes and platforms, vectorised so indexing a 10M-word corpus takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from generator.errors import GeneratorError
from generator.hashing import file_sha256

NGRAM = 8
HASHES = 7
BITS_PER_ITEM = 10
MIN_NGRAMS = 8  # shorter texts are never called seen (too little evidence)
CARD_FORMAT = 1
INDEX_FILE = "training-ngrams.bloom"  # beside a model the platform trained
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def words(text: str) -> list[str]:
    return [match.group(0).lower().replace("’", "'") for match in _WORD.finditer(text)]


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character span of each word ``words`` returns, in the same order (to cut covered words out of a text)."""
    return [match.span() for match in _WORD.finditer(text)]


def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-64 prime: polynomial combination of word hashes


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads every input bit over the output (the Bloom positions use all 64)."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def word_ngram_hashes(tokens: list[str], n: int = NGRAM, _cache: dict[str, int] | None = None) -> np.ndarray:
    """64-bit hashes of the n-grams of already split words (``words``): entry i covers words i .. i+n-1."""
    if len(tokens) < n:
        return np.zeros(0, dtype=np.uint64)
    cache = _cache if _cache is not None else {}
    hashes = np.fromiter((cache[t] if t in cache else cache.setdefault(t, _word_hash(t)) for t in tokens),
                         dtype=np.uint64, count=len(tokens))
    count = len(tokens) - n + 1
    combined = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            combined = combined * _MULTIPLIER + hashes[k: k + count]
        return _mix(combined)


def ngram_hashes(text: str, n: int = NGRAM, _cache: dict[str, int] | None = None) -> np.ndarray:
    """64-bit hashes of the text's word n-grams: blake2b per word, combined polynomially (vectorised, so
    indexing a 10M-word corpus takes seconds); stable across processes and platforms."""
    return word_ngram_hashes(words(text), n, _cache)


class MalformedIndexError(GeneratorError):
    """An index file that cannot be parsed (the guard turns this into a refusal with the rebuild hint)."""


@dataclass
class BloomIndex:
    """A Bloom filter over 64-bit hashes (double hashing: h1 + i * h2 mod m)."""

    bits: np.ndarray  # uint8, packed bits
    size: int  # number of bits m
    hashes: int = HASHES
    items: int = 0
    ngram: int = NGRAM

    @classmethod
    def empty(cls, expected_items: int, bits_per_item: int = BITS_PER_ITEM) -> BloomIndex:
        size = max(int(expected_items * bits_per_item), 1024)
        return cls(np.zeros((size + 7) // 8, dtype=np.uint8), size)

    def _positions(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=np.uint64)
        h1 = values & np.uint64(0xFFFFFFFF)  # double hashing from the two halves of one 64-bit hash
        h2 = (values >> np.uint64(32)) | np.uint64(1)
        steps = np.arange(self.hashes, dtype=np.uint64)
        return ((h1[:, None] + steps[None, :] * h2[:, None]) % np.uint64(self.size)).astype(np.int64)

    def add(self, values: np.ndarray) -> None:
        if len(values) == 0:
            return
        positions = self._positions(values).ravel()
        np.bitwise_or.at(self.bits, positions >> 3, (1 << (positions & 7)).astype(np.uint8))
        self.items += len(values)

    def contains(self, values: np.ndarray) -> np.ndarray:
        if len(values) == 0:
            return np.zeros(0, dtype=bool)
        positions = self._positions(values)
        hit = (self.bits[positions >> 3] >> (positions & 7).astype(np.uint8)) & 1
        return hit.all(axis=1)

    def fill(self) -> float:
        """Share of the filter's bits that are set."""
        return float(np.bitwise_count(self.bits).sum()) / max(self.size, 1)

    def expected_fill(self) -> float:
        """The most bits ``items`` insertions can set, on average: 1 - exp(-k n / m)."""
        return 1.0 - math.exp(-self.hashes * self.items / max(self.size, 1))

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"format": 1, "size": self.size, "hashes": self.hashes, "items": self.items,
                             "ngram": self.ngram,
                             "hash": "blake2b-64 per lower-cased word, FNV polynomial over n words, splitmix64",
                             }).encode()
        staging = path.with_suffix(path.suffix + ".tmp")
        with staging.open("wb") as handle:
            handle.write(len(header).to_bytes(4, "little"))
            handle.write(header)
            handle.write(self.bits.tobytes())
        staging.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> BloomIndex:
        """The index in ``path``, unchecked (``detect.ngram_index.load_verified`` is what the guard uses)."""
        raw = Path(path).read_bytes()
        try:
            length = int.from_bytes(raw[:4], "little")
            header = json.loads(raw[4: 4 + length])
            bits = np.frombuffer(raw[4 + length:], dtype=np.uint8).copy()
            index = cls(bits, int(header["size"]), int(header["hashes"]), int(header["items"]),
                        int(header["ngram"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedIndexError(f"memorisation index {path} is unreadable ({exc})") from exc
        if len(index.bits) * 8 < index.size or index.size <= 0 or index.hashes <= 0 or index.ngram <= 0:
            raise MalformedIndexError(f"memorisation index {path} is truncated or malformed ({len(index.bits)} "
                                      f"bytes for {index.size} bits)")
        return index

    def overlap(self, text: str) -> float | None:
        """Share of the text's n-grams found in the index (None when the text has too few n-grams)."""
        hashes = ngram_hashes(text, self.ngram)
        if len(hashes) < MIN_NGRAMS:
            return None
        return float(self.contains(hashes).mean())


def build_index(texts: Iterable[str], expected_items: int | None = None) -> BloomIndex:
    """Index every word 8-gram of ``texts``; sized exactly (10 bits per 8-gram) from the hashes themselves,
    so the text is split into words once (the shared corpus: ~5 s of CPU)."""
    cache: dict[str, int] = {}
    hashes = [ngram_hashes(text, _cache=cache) for text in texts]
    index = BloomIndex.empty(expected_items if expected_items is not None else sum(len(h) for h in hashes))
    for values in hashes:
        index.add(values)
    return index


# --- the card beside an index ----------------------------------------------------------------------------------

def card_path(index_path: Path) -> Path:
    return Path(index_path).with_name(Path(index_path).name + ".json")


def signature_path(index_path: Path) -> Path:
    """``<index>.sig.json``: the application's signature over the index's and its card's digests."""
    return Path(index_path).with_name(Path(index_path).name + ".sig.json")


def save_with_card(index: BloomIndex, path: Path, *, seal: Callable[[Path], None] | None = None,
                   **facts: Any) -> dict[str, Any]:
    """Write the index and its card (``facts``: weights_sha256, corpus, documents, ...); returns the card, which a
    model card may copy (``memorisation_index``). ``seal`` (the application's signer) then signs both."""
    index.save(Path(path))
    card = {"format": CARD_FORMAT, "index_file": Path(path).name, "index_sha256": file_sha256(path),
            "ngram": index.ngram, "hashes": index.hashes, "size_bits": index.size, "items": index.items,
            "fill": round(index.fill(), 6), **facts}
    staging = card_path(path).with_suffix(".json.tmp")
    staging.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    staging.replace(card_path(path))
    if seal is not None:
        seal(Path(path))
    return card


def write_model_index(model_dir: Path, texts: Iterable[str], *, seal: Callable[[Path], None] | None = None,
                      **facts: Any) -> dict[str, Any]:
    """Called by the platform's trainers (bootstrap, distill, adapt) through their ``index_writer``: index the
    text the model was trained on, with its card beside it (signed by ``seal``: the CLI passes the platform
    key's signer). Returns the card, which the trainer copies into its model card (``memorisation_index``)."""
    texts = list(texts)
    return save_with_card(build_index(texts), Path(model_dir) / INDEX_FILE, seal=seal, documents=len(texts),
                          source="the platform's trainer (its training text)", **facts)
