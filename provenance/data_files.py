"""Where labelled data is read from: files as given, and a directory standing for its ``*.jsonl`` files.

``detect train``/``retrain``, ``make demo`` and the toxicity trainer all accept either, and each used to expand
directories its own way; one rule here keeps them agreeing (sorted, not recursive).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from provenance.errors import ProvenanceError


def jsonl_files(paths: Iterable[Path], *, refuse_empty_dirs: bool = False) -> list[Path]:
    """Each path as given, a directory replaced by its sorted ``*.jsonl`` files; with ``refuse_empty_dirs`` a
    directory holding none is an error (a user who named it expected data there)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(path.glob("*.jsonl"))
        if not found and refuse_empty_dirs:
            raise ProvenanceError(f"{path}: no .jsonl files in this directory",
                                  hint="pass labelled JSONL files or a directory holding them")
        files.extend(found)
    return files
