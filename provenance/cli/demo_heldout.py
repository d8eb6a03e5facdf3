"""Human and machine examples for the demo that the scorer and the detector bundle never saw.

Two sources, both read from data files at run time (never copied into code):

* The corpus' held-out documents. The reference checkpoint was trained on every document of ``../corpus``
  except those with ``md5(document) % 100 == 0`` (the split ``../shared/models/README.md`` documents): files
  whose name contains ``wiki`` are split on ``"\\n\\n\\n"`` (stripped, non-empty pieces); every other file is split
  on ``"\\n\\n"`` and each run of 20 paragraphs, joined with ``"\\n\\n"``, is a document. Showing the detector
  text its scorer memorised would flatter (or confuse) it; these documents are genuinely new to it.
* Labelled rows of ``--detect-data`` outside the bundle's training sample, whole pair groups at a time (a human
  text whose machine twin was trained on shares its prompt, so it is not held out).

A model this platform bootstrapped itself holds out paragraphs instead (``generator.bootstrap.corpus``:
``md5(paragraph) % 100 < 1``); ``split="paragraphs"`` follows that rule.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DOCUMENT_PARAGRAPHS = 20
MIN_PARAGRAPH_CHARS = 40  # skips titles and section headings
EXCERPT_CHARS = (400, 1200)


@dataclass(frozen=True)
class Example:
    """One text for the demo's scan, with the kind it is counted under and where it came from."""

    kind: str
    text: str
    origin: str


def corpus_documents(path: Path) -> Iterator[str]:
    """The documents of one corpus file, exactly as the reference model's training split defines them."""
    text = path.read_text(encoding="utf-8")
    if "wiki" in path.name:
        yield from (piece.strip() for piece in text.split("\n\n\n") if piece.strip())
        return
    paragraphs = text.split("\n\n")
    for start in range(0, len(paragraphs), DOCUMENT_PARAGRAPHS):
        yield "\n\n".join(paragraphs[start:start + DOCUMENT_PARAGRAPHS])


def is_heldout(document: str) -> bool:
    return int(hashlib.md5(document.encode()).hexdigest(), 16) % 100 == 0


def excerpt(document: str) -> str | None:
    """A readable passage from the start of a document: whole paragraphs, at most ~1,200 characters."""
    low, high = EXCERPT_CHARS
    picked: list[str] = []
    for paragraph in document.split("\n\n"):
        paragraph = " ".join(paragraph.split())
        if len(paragraph) < MIN_PARAGRAPH_CHARS:
            continue
        picked.append(paragraph)
        if sum(len(p) for p in picked) >= low:
            break
    text = "\n\n".join(picked)
    if len(text) < low // 2:
        return None
    if len(text) > high:
        cut = text[:high]
        end = cut.rfind(". ")
        text = cut[:end + 1] if end > low // 2 else cut.rsplit(" ", 1)[0]
    return text


def _heldout_units(path: Path, split: str) -> Iterator[tuple[str, str]]:
    """(text, what it is) for each held-out unit of one file under the model's split rule."""
    if split == "paragraphs":
        from generator.bootstrap.corpus import is_heldout as paragraph_heldout
        from generator.bootstrap.corpus import iter_paragraphs

        text = path.read_text(encoding="utf-8", errors="replace")
        yield from ((p, "held-out paragraph") for p in iter_paragraphs(text) if paragraph_heldout(p, 1))
        return
    yield from ((d, "held-out document") for d in corpus_documents(path) if is_heldout(d))


def heldout_corpus_examples(corpus: Path | None, count: int, seed: int,
                            split: str = "documents") -> list[Example]:
    """``count`` excerpts of held-out corpus text, alternating encyclopedia and book text when both exist.
    ``split``: ``documents`` (the reference checkpoint's rule) or ``paragraphs`` (a bootstrapped model's)."""
    if corpus is None or not corpus.is_dir():
        return []
    pools: dict[str, list[Example]] = {"wiki": [], "books": []}
    for path in sorted(corpus.glob("*.txt")):
        family = "wiki" if "wiki" in path.name else "books"
        for unit, what in _heldout_units(path, split):
            if text := excerpt(unit):
                pools[family].append(Example("human-corpus", text, f"{path.name} ({what})"))
    rng = random.Random(seed)
    for pool in pools.values():
        rng.shuffle(pool)
    mixed = [example for pair in zip(pools["wiki"], pools["books"], strict=False) for example in pair]
    longer = pools["wiki"] if len(pools["wiki"]) > len(pools["books"]) else pools["books"]
    mixed += longer[len(mixed) // 2:]
    return mixed[:count]


def heldout_labelled_examples(files: Sequence[Path], training_hashes: frozenset[str], per_label: int,
                              seed: int) -> list[Example]:
    """``per_label`` human and machine rows whose whole pair group is outside the bundle's training sample,
    spread round-robin over (domain, generator) so one source does not fill the sample."""
    from detect.bundle import short_text_hash
    from detect.training import prepare

    if not files:
        return []
    rows = prepare(list(files)).rows
    trained_groups = {row.group for row in rows if short_text_hash(row.text) in training_hashes}
    rows = [row for row in rows if row.group not in trained_groups]
    rng = random.Random(seed)
    rng.shuffle(rows)
    examples: list[Example] = []
    for label, kind in ((0, "human-labelled"), (1, "machine-labelled")):
        strata: dict[tuple[str, str], list] = {}
        for row in rows:
            if row.label == label:
                strata.setdefault((row.domain, row.generator), []).append(row)
        queues = [strata[key] for key in sorted(strata)]
        picked = 0
        while picked < per_label and any(queues):
            for queue in queues:
                if queue and picked < per_label:
                    row = queue.pop()
                    examples.append(Example(kind, row.text, f"{row.domain}, {row.generator}"))
                    picked += 1
    return examples
