"""Memorisation guard: a compact index of the text a scorer was trained on, and the check against it.

A perplexity detector calls text "machine" when the scorer finds it unusually predictable. Text the scorer
was *trained on* (a public-domain novel, a Wikipedia article, a quoted constitution) is predictable for a
different reason: the scorer memorised it. Calling it machine text is the famous failure of perplexity
detectors, so text with long exact overlaps with the scorer's training text is never judged machine.

The index is a Bloom filter of hashed word 8-grams (lower-cased word tokens: independent of the tokenizer,
so one index serves a model and its distilled student). With ``bits_per_item`` = 10 and 7 hashes a random
8-gram is a false hit about 1% of the time, and a text is "seen" only when a large share of its 8-grams hit,
so false alarms on unseen text need many coincident false hits. It lives beside the model
(``<model dir>/training-ngrams.bloom`` when the platform trained the model; for a model the platform did not
train, ``<home>/models/memorisation/<weights sha256>.bloom`` built from a corpus with
``python -m detect.memorisation build``).

``corpus_documents`` rebuilds the training documents of ``../shared/models/gpt2-corpus-27m`` exactly as
its README says (and which of them were held out), so the index and the held-out evaluation agree.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

INDEX_FILE = "training-ngrams.bloom"
NGRAM = 8
HASHES = 7
BITS_PER_ITEM = 10
SEEN_FRACTION = 0.5  # share of a text's 8-grams found in the index above which it counts as trained-on
MIN_NGRAMS = 8  # shorter texts are never called seen (too little evidence)
MEMORISED_REASON = "the scorer was trained on this text (quoted or public text)"
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)


def words(text: str) -> list[str]:
    return [match.group(0).lower().replace("’", "'") for match in _WORD.finditer(text)]


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


def ngram_hashes(text: str, n: int = NGRAM, _cache: dict[str, int] | None = None) -> np.ndarray:
    """64-bit hashes of the text's word n-grams: blake2b per word, combined polynomially (vectorised, so
    indexing a 10M-word corpus takes seconds); stable across processes and platforms."""
    tokens = words(text)
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
        raw = path.read_bytes()
        length = int.from_bytes(raw[:4], "little")
        header = json.loads(raw[4: 4 + length])
        bits = np.frombuffer(raw[4 + length:], dtype=np.uint8).copy()
        return cls(bits, int(header["size"]), int(header["hashes"]), int(header["items"]), int(header["ngram"]))

    def overlap(self, text: str) -> float | None:
        """Share of the text's n-grams found in the index (None when the text has too few n-grams)."""
        hashes = ngram_hashes(text, self.ngram)
        if len(hashes) < MIN_NGRAMS:
            return None
        return float(self.contains(hashes).mean())


CERTAIN_RUN_TOKENS = 24  # model-free signal: this many consecutive near-certain tokens (p >= 0.9) in a row


@dataclass
class MemorisationGuard:
    """Keeps text the scorer was trained on from being called machine (see module docstring).

    With an index: a text whose word 8-grams are at least ``SEEN_FRACTION`` in the index is trained-on
    human text; its verdict becomes ``human``. Without one (or below that share) the model-free signal, a
    run of ``certain_run`` near-certain tokens, turns a ``machine`` verdict into ``uncertain``: the scorer
    may have memorised the text, so its predictability is no evidence of a machine author.
    """

    index: BloomIndex | None = None
    certain_run_tokens: int = CERTAIN_RUN_TOKENS

    @classmethod
    def for_scorer(cls, model_path: Path | None, weights_sha256: str | None, home: Path | None) -> MemorisationGuard:
        path = index_path_for(model_path, weights_sha256, home)
        return cls(BloomIndex.load(path) if path is not None else None)

    def apply(self, verdict: Any, text: str, certain_run: float) -> Any:
        """The verdict, corrected in place when the text looks memorised (adds detectors and a reason)."""
        if verdict.verdict == "abstain":
            return verdict
        overlap = self.index.overlap(text) if self.index is not None else None
        verdict.detectors["memorised_overlap"] = None if overlap is None else round(overlap, 6)
        seen = overlap is not None and overlap >= SEEN_FRACTION
        long_run = bool(np.isfinite(certain_run)) and certain_run >= self.certain_run_tokens
        if seen:
            verdict.verdict = "human"
            verdict.reasons.insert(0, f"{MEMORISED_REASON}: {overlap:.0%} of its word 8-grams are in the "
                                      "scorer's training-text index")
        elif long_run and verdict.verdict == "machine":
            verdict.verdict = "uncertain"
            verdict.reasons.insert(0, f"{MEMORISED_REASON}: {int(certain_run)} near-certain tokens in a row, "
                                      "which memorised text shows and written or sampled text does not")
        return verdict


def build_index(texts: Iterable[str], expected_items: int | None = None) -> BloomIndex:
    """Index every word 8-gram of ``texts`` (pass an iterable twice-usable list for exact sizing)."""
    texts = list(texts)
    if expected_items is None:
        expected_items = sum(max(len(words(text)) - NGRAM + 1, 0) for text in texts)
    index = BloomIndex.empty(expected_items)
    cache: dict[str, int] = {}
    for text in texts:
        index.add(ngram_hashes(text, _cache=cache))
    return index


def write_model_index(model_dir: Path, texts: Iterable[str]) -> Path:
    """Called by the platform's trainers (bootstrap, distill, adapt): index the text the model was trained on."""
    return build_index(texts).save(Path(model_dir) / INDEX_FILE)


def index_path_for(model_path: Path | None, weights_sha256: str | None, home: Path | None) -> Path | None:
    """Where a model's index is: beside the model, else under the data home by weights hash (or None)."""
    if model_path is not None and (Path(model_path) / INDEX_FILE).is_file():
        return Path(model_path) / INDEX_FILE
    if home is not None and weights_sha256:
        candidate = home_index_path(home, weights_sha256)
        if candidate.is_file():
            return candidate
    return None


def home_index_path(home: Path, weights_sha256: str) -> Path:
    return Path(home) / "models" / "memorisation" / f"{weights_sha256}.bloom"


def corpus_documents(corpus: Path) -> Iterator[tuple[str, bool]]:
    """(document, held_out) for the shared corpus, rebuilt as ../shared/models/README.md describes."""
    for path in sorted(Path(corpus).glob("*.txt")):
        raw = path.read_text(encoding="utf-8")
        if "wiki" in path.name:
            documents = [piece.strip() for piece in raw.split("\n\n\n") if piece.strip()]
        else:
            paragraphs = raw.split("\n\n")
            documents = ["\n\n".join(paragraphs[i: i + 20]) for i in range(0, len(paragraphs), 20)]
        for document in documents:
            held_out = int(hashlib.md5(document.encode()).hexdigest(), 16) % 100 == 0
            yield document, held_out


def corpus_paragraphs(corpus: Path, *, held_out: bool, count: int, seed: int = 0,
                      min_words: int = 40, max_words: int = 250) -> list[str]:
    """``count`` paragraphs of trained-on (or held-out) corpus documents, sampled with a fixed seed."""
    pool = [paragraph.strip() for document, out in corpus_documents(corpus) if out == held_out
            for paragraph in document.split("\n\n")
            if min_words <= len(paragraph.split()) <= max_words]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(pool), size=min(count, len(pool)), replace=False)
    return [pool[i] for i in sorted(picks)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m detect.memorisation",
        description="Build the memorisation index of a scorer's training text (see module docstring).")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="index a corpus for a model the platform did not train")
    build.add_argument("--corpus", type=Path, required=True,
                       help="directory of .txt files (documents rebuilt as the shared model's README says)")
    build.add_argument("--model", default=None, help="the scorer (default: PROVENANCE_MODEL / settings)")
    build.add_argument("--include-held-out", action="store_true",
                       help="also index documents held out from training (default: trained-on only)")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"error: corpus directory {args.corpus} not found", file=sys.stderr)
        print("hint: pass --corpus DIR with the model's training .txt files", file=sys.stderr)
        return 2
    from provenance.runtime import load_configured_model
    from provenance.settings import Settings

    settings = Settings()
    digest = load_configured_model(settings, args.model).weights_sha256
    if digest is None:
        print("error: the scorer has no local weights file to pin the index to", file=sys.stderr)
        print("hint: pass --model DIR (a local checkpoint directory)", file=sys.stderr)
        return 2
    texts = [doc for doc, out in corpus_documents(args.corpus) if args.include_held_out or not out]
    if not texts:
        print(f"error: no documents under {args.corpus}", file=sys.stderr)
        print("hint: the corpus directory needs .txt files", file=sys.stderr)
        return 2
    path = build_index(texts).save(home_index_path(settings.home, digest))
    print(json.dumps({"index": str(path), "documents": len(texts), "weights_sha256": digest}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
