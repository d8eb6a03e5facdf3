"""Read a training corpus: every ``.txt`` file under a directory, split into paragraphs, with a held-out split.

Paragraphs (blank-line separated) are the unit of the split: ``md5(paragraph) % 100 < heldout_percent`` is
held out, so the split is stable across runs and machines and independent of file order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import CorpusError

_SNIFF_BYTES = 8192


@dataclass
class Corpus:
    """Paragraphs of a corpus directory, split into training and held-out parts."""

    root: Path
    files: list[Path]
    skipped: list[tuple[Path, str]]
    train: list[str] = field(repr=False)
    heldout: list[str] = field(repr=False)
    fingerprint: str
    bytes_read: int

    def summary(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "files": len(self.files),
            "skipped_files": [{"path": str(p), "reason": r} for p, r in self.skipped],
            "bytes": self.bytes_read,
            "train_paragraphs": len(self.train),
            "heldout_paragraphs": len(self.heldout),
            "sha256": self.fingerprint,
        }


def _binary_reason(path: Path) -> str | None:
    """Why a file is not usable text, or None. NUL bytes or invalid UTF-8 in the first block mean binary."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if b"\x00" in head:
        return "binary file (contains NUL bytes)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # a multi-byte character cut by the block edge is fine
            return f"not UTF-8 text (invalid byte at offset {exc.start})"
    return None


def iter_paragraphs(text: str) -> Iterator[str]:
    for block in text.replace("\r\n", "\n").split("\n\n"):
        paragraph = block.strip()
        if paragraph:
            yield paragraph


def is_heldout(paragraph: str, heldout_percent: int) -> bool:
    return int(hashlib.md5(paragraph.encode("utf-8")).hexdigest(), 16) % 100 < heldout_percent


def read_corpus(root: Path, *, heldout_percent: int = 1, max_bytes: int | None = None) -> Corpus:
    """Load ``root``'s text files (sorted, recursive). Raises CorpusError when nothing usable is found."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CorpusError(f"corpus directory {root} does not exist", hint="pass --corpus DIR with .txt files")
    candidates = sorted(p for p in root.rglob("*.txt") if p.is_file())
    if not candidates:
        raise CorpusError(f"corpus directory {root} has no .txt files",
                          hint="put UTF-8 plain-text files (*.txt) under the directory")
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    train: list[str] = []
    heldout: list[str] = []
    digest = hashlib.sha256()
    bytes_read = 0
    for path in candidates:
        if max_bytes is not None and bytes_read >= max_bytes:
            skipped.append((path, f"corpus byte limit {max_bytes} reached"))
            continue
        reason = _binary_reason(path)
        if reason is not None:
            skipped.append((path, reason))
            continue
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="replace")
        digest.update(str(path.relative_to(root)).encode() + b"\0" + hashlib.sha256(raw).digest())
        bytes_read += len(raw)
        files.append(path)
        for paragraph in iter_paragraphs(text):
            (heldout if is_heldout(paragraph, heldout_percent) else train).append(paragraph)
    if not files:
        reasons = "; ".join(f"{p.name}: {r}" for p, r in skipped[:3])
        raise CorpusError(f"no usable text in {root} ({reasons})", hint="the corpus must be UTF-8 plain text")
    if not train:
        raise CorpusError(f"the text files in {root} are empty", hint="add text to the corpus files")
    if not heldout:  # tiny corpora: hold out the last paragraph so perplexity is still honest
        heldout.append(train.pop())
    return Corpus(root=root, files=files, skipped=skipped, train=train, heldout=heldout,
                  fingerprint=digest.hexdigest(), bytes_read=bytes_read)
