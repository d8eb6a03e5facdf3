"""Which server-side paths an API scan may read: only regular files inside ``PROVENANCE_SCAN_ROOTS``.

The API runs with the server's file permissions, so a path in a request is untrusted input. Every path is
resolved (``..`` and symlinks followed) before it is compared with the roots, so a symlink pointing out of a
root, or ``root/../etc``, is outside. The data directory (keys, database, models) is never scannable, even
when a root contains it. A directory is expanded here, each file checked the same way, so a symlink inside an
allowed folder cannot lead the reader out; FIFOs, sockets and devices are refused (reading a FIFO would block a
submission thread forever). The CLI's ``provenance scan`` reads a local user's own files and does not use this.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from provenance.errors import ProvenanceError

MAX_FILES = 100_000  # a directory with more files is refused rather than walked for minutes


class ScanPathRefused(ProvenanceError):
    """A server-side path outside the allowed roots (the API answers 403)."""


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _resolved_roots(roots: Sequence[Path]) -> list[Path]:
    resolved = []
    for root in roots:
        try:
            resolved.append(Path(root).expanduser().resolve(strict=True))
        except OSError:
            continue  # a configured root that does not exist allows nothing
    return resolved


def _check_one(path: Path, roots: list[Path], home: Path, shown: str) -> Path:
    try:
        real = path.resolve(strict=True)
        mode = os.stat(real).st_mode
    except (OSError, RuntimeError):  # missing, a symlink loop, no permission
        raise ScanPathRefused(f"cannot scan {shown}: it is not an allowed, readable path",
                              hint="server-side paths must exist inside PROVENANCE_SCAN_ROOTS") from None
    if _inside(real, home) or _inside(home, real):
        raise ScanPathRefused(f"cannot scan {shown}: the data directory is never scannable",
                              hint="scan a folder of dumps inside PROVENANCE_SCAN_ROOTS")
    if not any(_inside(real, root) for root in roots):
        raise ScanPathRefused(f"cannot scan {shown}: it is outside the allowed scan roots",
                              hint="ask the operator to add its folder to PROVENANCE_SCAN_ROOTS")
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ScanPathRefused(f"cannot scan {shown}: not a regular file or folder",
                              hint="FIFOs, sockets and devices are never read")
    return real


def allowed_scan_files(path: str, roots: Sequence[Path], home: Path) -> list[Path]:
    """The real paths of the regular files a server-side scan of ``path`` may read, or ScanPathRefused.

    Error messages repeat the path as given and never say whether it exists outside the roots."""
    allowed = _resolved_roots(roots)
    if not allowed:
        raise ScanPathRefused("server-side path scans are disabled on this server",
                              hint="set PROVENANCE_SCAN_ROOTS to the folders the API may read, or send the texts "
                                   "in the request")
    if not path or "\x00" in path:
        raise ScanPathRefused("cannot scan an empty path", hint="give a file or folder inside PROVENANCE_SCAN_ROOTS")
    home = Path(home).expanduser().resolve()
    real = _check_one(Path(path).expanduser(), allowed, home, repr(path))
    if real.is_file():
        return [real]
    files: list[Path] = []
    for folder, directories, names in os.walk(real, followlinks=False):
        directories[:] = sorted(d for d in directories if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            candidate = Path(folder) / name
            files.append(_check_one(candidate, allowed, home, repr(str(candidate.relative_to(real)))))
            if len(files) > MAX_FILES:
                raise ScanPathRefused(f"{path!r} holds more than {MAX_FILES} files",
                                      hint="scan its sub-folders one at a time")
    if not files:
        raise ScanPathRefused(f"nothing to scan in {path!r}", hint="the folder has no files")
    return files
