"""The training-text index: a Bloom filter of hashed word n-grams, its card, and the checks before it is used.

The index decides which words of a text the scorer has seen, and so which verdicts the memorisation guard
(``detect.memorisation``) changes. A file that lies (altered after it was written, or with every bit set, which
makes every n-gram a "hit") would quietly move verdicts, so it is never read on trust:

* **Card.** Whoever writes an index writes ``<index>.json`` beside it: the index file's SHA-256, its n-gram
  size, hash count, bit and item counts, and what it indexes (scorer weights SHA-256, corpus fingerprint,
  documents). ``load_verified`` recomputes the file's digest and refuses a file that differs from its card, a
  file without a card, and a card for other weights.
* **Signature.** Card and index sit side by side, so whoever can write one can rewrite both. The application
  passes ``seal`` to ``save_with_card`` (it writes ``<index>.sig.json``: the platform key's signature over the
  card's and the index file's SHA-256) and ``verify`` to ``load_verified``, which calls it before anything else
  is trusted; a refused signature raises ``DetectionError``, a missing one ``UnsignedIndexError`` (policy in
  ``provenance.artifact_signing.verify_index``). ``detect`` never imports ``provenance``, so the key stays there.
* **Fill.** A Bloom filter of ``n`` items in ``m`` bits with ``k`` hashes has at most ``1 - exp(-k n / m)`` of
  its bits set (less when items repeat). An index fuller than that, or fuller than ``MAX_FILL`` at all, answers
  "seen" for most n-grams it never saw; it is refused.

Refusing raises ``DetectionError`` naming the file, with the command that rebuilds it: the scan stops with an
``error:``/``hint:`` pair instead of judging every text against an index that contradicts its card, and a
rebuilt index (seconds) restores it; skipping such an index would put memorised text back on the ``machine``
path unnoticed. An index with *no* card (``UncardedIndexError``: an older version wrote it) proves nothing
either way and is no more dangerous than a missing index, so the guard skips it with a warning instead.
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

from detect.errors import DetectionError

NGRAM = 8
HASHES = 7
BITS_PER_ITEM = 10
MIN_NGRAMS = 8  # shorter texts are never called seen (too little evidence)
MAX_FILL = 0.7  # share of bits set above which an index is refused (10 bits per item: ~0.5 at most)
FILL_SLACK = 0.02  # allowed excess over the predicted fill, plus four binomial standard deviations
CARD_FORMAT = 1
REBUILD_HINT = ("rebuild it: provenance model memorisation-index --corpus DIR [--model M] (or retrain the model "
                "the platform trained)")
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
        """The index in ``path``, unchecked (``load_verified`` is what the guard uses)."""
        raw = Path(path).read_bytes()
        try:
            length = int.from_bytes(raw[:4], "little")
            header = json.loads(raw[4: 4 + length])
            bits = np.frombuffer(raw[4 + length:], dtype=np.uint8).copy()
            index = cls(bits, int(header["size"]), int(header["hashes"]), int(header["items"]),
                        int(header["ngram"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise DetectionError(f"memorisation index {path} is unreadable ({exc})", hint=REBUILD_HINT) from exc
        if len(index.bits) * 8 < index.size or index.size <= 0 or index.hashes <= 0 or index.ngram <= 0:
            raise DetectionError(f"memorisation index {path} is truncated or malformed ({len(index.bits)} bytes "
                                 f"for {index.size} bits)", hint=REBUILD_HINT)
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


# --- the card beside an index, and the checks before it is used ------------------------------------------------

class UncardedIndexError(DetectionError):
    """An index without a card (written before cards existed, or its card deleted): it cannot be verified, so it
    is not used. Unlike a file that contradicts its card, this is no worse than having no index (deleting the
    index has the same effect), so the guard may fall back to the model-free signal with a warning."""


class UnsignedIndexError(UncardedIndexError):
    """An index with a card but no signature (an older version wrote it, or its signature was deleted): like an
    index without a card, unverifiable rather than contradicted, so the guard skips it with a warning."""


def card_path(index_path: Path) -> Path:
    return Path(index_path).with_name(Path(index_path).name + ".json")


def signature_path(index_path: Path) -> Path:
    """``<index>.sig.json``: the application's signature over the index's and its card's digests."""
    return Path(index_path).with_name(Path(index_path).name + ".sig.json")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def read_index_card(path: Path) -> dict[str, Any] | None:
    """The card beside an index, or None when it is missing or unreadable (callers decide)."""
    try:
        card = json.loads(card_path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return card if isinstance(card, dict) else None


def load_verified(path: Path, weights_sha256: str | None = None, *,
                  verify: Callable[[Path], None] | None = None) -> tuple[BloomIndex, dict[str, Any]]:
    """The index and its card, after the checks in the module docstring (``DetectionError`` on any failure).

    ``weights_sha256``: the scorer the index will guard; a card recording other weights is refused (an index of
    another model's training text would set the wrong passages aside). ``verify``: the application's signature
    check, called with the index path before the file is read; raises to refuse."""
    path = Path(path)
    card = read_index_card(path)
    if card is None:
        raise UncardedIndexError(f"memorisation index {path} has no readable card ({card_path(path).name}), so its "
                             "digest cannot be checked before use", hint=REBUILD_HINT)
    if verify is not None:
        verify(path)
    actual = file_sha256(path)
    if actual != card.get("index_sha256"):
        raise DetectionError(f"memorisation index {path} does not match its card: SHA-256 {actual[:16]}... but "
                             f"the card records {str(card.get('index_sha256'))[:16]}... (altered, replaced or "
                             "corrupt after it was written)", hint=REBUILD_HINT)
    recorded = card.get("weights_sha256")
    if weights_sha256 and recorded and recorded != weights_sha256:
        raise DetectionError(f"memorisation index {path} was built for scorer weights {recorded[:16]}..., not the "
                             f"loaded scorer's {weights_sha256[:16]}...", hint=REBUILD_HINT)
    index = BloomIndex.load(path)
    check_fill(index, path)
    return index, card


def check_fill(index: BloomIndex, path: Path | str = "index") -> None:
    """Refuse an index fuller than its item count allows, or fuller than ``MAX_FILL``: such a filter calls
    unseen n-grams seen (with every bit set, every text would count as trained-on)."""
    fill, expected = index.fill(), index.expected_fill()
    tolerance = FILL_SLACK + 4 * math.sqrt(max(expected * (1 - expected), 1e-12) / max(index.size, 1))
    if fill > MAX_FILL or fill > expected + tolerance:
        raise DetectionError(f"memorisation index {path} is saturated: {fill:.1%} of its bits are set, where "
                             f"{index.items:,} n-grams in {index.size:,} bits set at most {expected:.1%} (refused "
                             f"above {MAX_FILL:.0%}); it would call unseen text trained-on", hint=REBUILD_HINT)
