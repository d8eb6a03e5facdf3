"""File and checkpoint hashes (no torch): manifests, bundles, adapters, exports and the data home's record
pin a model by the SHA-256 of its weights file, and computing one must not require loading the model."""

from __future__ import annotations

import hashlib
from pathlib import Path

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def file_sha256(path: Path) -> str:
    """SHA-256 of a file read in 1 MiB blocks (checkpoints and exports are too large to read at once)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_sha256(path: Path | None) -> str | None:
    """SHA-256 of a checkpoint directory's weights file, or None when there is none."""
    if path is None:
        return None
    for file_name in WEIGHT_FILES:
        candidate = Path(path) / file_name
        if candidate.is_file():
            return file_sha256(candidate)
    return None
