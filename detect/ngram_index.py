"""The checks before the training-text index is used (the index itself is written on the generator side).

The index (``generator.ngram_index``: a Bloom filter of hashed word n-grams and its card) decides which words
of a text the scorer has seen, and so which verdicts the memorisation guard (``detect.memorisation``) changes.
A file that lies (altered after it was written, or with every bit set, which makes every n-gram a "hit")
would quietly move verdicts, so it is never read on trust:

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

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from detect.errors import DetectionError
from generator.hashing import file_sha256
from generator.ngram_index import BloomIndex, MalformedIndexError, card_path

MAX_FILL = 0.7  # share of bits set above which an index is refused (10 bits per item: ~0.5 at most)
FILL_SLACK = 0.02  # allowed excess over the predicted fill, plus four binomial standard deviations
REBUILD_HINT = ("rebuild it: provenance model memorisation-index --corpus DIR [--model M] (or retrain the model "
                "the platform trained)")


class UncardedIndexError(DetectionError):
    """An index without a card (written before cards existed, or its card deleted): it cannot be verified, so it
    is not used. Unlike a file that contradicts its card, this is no worse than having no index (deleting the
    index has the same effect), so the guard may fall back to the model-free signal with a warning."""


class UnsignedIndexError(UncardedIndexError):
    """An index with a card but no signature (an older version wrote it, or its signature was deleted): like an
    index without a card, unverifiable rather than contradicted, so the guard skips it with a warning."""


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
    try:
        index = BloomIndex.load(path)
    except MalformedIndexError as exc:
        raise DetectionError(str(exc), hint=REBUILD_HINT) from exc
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
