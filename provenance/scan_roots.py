"""Which server-side paths an API scan may read, and reading them without races: only regular files inside
``PROVENANCE_SCAN_ROOTS``, never the data directory.

The API runs with the server's file permissions, so a path in a request is untrusted input. Three rules:

* **One answer.** Every refused path gets the same message (missing, outside the roots, a symlink, the data
  directory, a FIFO, a second hard link...), so the answer is no oracle for what exists on the server. The
  precise reason goes to the audit row only (``ScanPathRefused.reason``).
* **No path is followed.** Each root is opened once as a directory descriptor; every component below it is
  opened with ``openat(..., O_NOFOLLOW)`` from the descriptor of the one above, so a symlink anywhere below the
  root (file or folder, pointing in or out) is refused, and ``..`` is refused outright. Nothing is resolved
  as a string and then reopened by name.
* **The descriptor is what is checked, at read time.** The request is validated by opening every file this
  way and checking the *opened* descriptor: a regular file, exactly one link (a hard link is a second name
  for a file that may live anywhere on the same file system, the data directory's database included), and no
  directory on the way that is the data directory (compared by device and inode, not by path). The readers
  then do not reopen the path: each file is opened again beneath the root's descriptor with the same checks
  when reading starts, must be the same (device, inode) as the one validated, and the readers read it
  through ``/proc/self/fd/N`` (so a file swapped for a symlink between request and read is refused, and a
  replaced file is not read).

The CLI's ``provenance scan`` reads a local user's own files and does not use this.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PosixPath

from provenance.errors import ProvenanceError

MAX_FILES = 100_000  # a directory with more files is refused rather than walked for minutes
REFUSED_HINT = ("server-side paths must be regular files, or folders of them, inside PROVENANCE_SCAN_ROOTS: no "
                "symlinks, no hard links, not the data directory")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC  # a FIFO must not block


class ScanPathRefused(ProvenanceError):
    """A server-side path the API will not read (answered 403). ``reason`` is for the audit row only."""

    def __init__(self, message: str, *, hint: str | None = None, reason: str = "") -> None:
        super().__init__(message, hint=hint)
        self.reason = reason or message


class _Refused(Exception):
    """Internal: why a path is refused (never shown to the requester)."""


def _refusal(shown: str, reason: str) -> ScanPathRefused:
    return ScanPathRefused(f"cannot scan {shown}: it is not an allowed, readable path", hint=REFUSED_HINT,
                           reason=reason)


@dataclass
class ScanRoot:
    """A configured root held open as a directory descriptor, with the spellings a request may use for it."""

    fd: int
    prefixes: list[tuple[str, ...]]


def _components(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part not in ("", "."))


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def open_roots(roots: Sequence[Path], home: Path) -> list[ScanRoot]:
    """Open the configured roots (operator input: symlinks in them are followed, once, here). A root that
    does not exist, or that lies inside the data directory, allows nothing."""
    home_real = os.path.realpath(os.path.expanduser(str(home)))
    opened = []
    for root in roots:
        given = os.path.abspath(os.path.expanduser(str(root)))
        real = os.path.realpath(given)
        if real == home_real or real.startswith(home_real.rstrip("/") + "/"):
            continue
        try:
            fd = os.open(real, _DIR_FLAGS)
        except OSError:
            continue
        opened.append(ScanRoot(fd, sorted({_components(given), _components(real)}, key=len, reverse=True)))
    return opened


def _locate(path: str, roots: list[ScanRoot]) -> tuple[ScanRoot, tuple[str, ...]]:
    """The root a requested absolute path lies in, and the components below it (lexically: nothing is resolved)."""
    if not path.startswith("/") and not path.startswith("~"):
        raise _Refused("not an absolute path")
    parts = _components(os.path.expanduser(path))
    if ".." in parts:
        raise _Refused("'..' in the path")
    for root in roots:
        for prefix in root.prefixes:
            if parts[:len(prefix)] == prefix:
                return root, parts[len(prefix):]
    raise _Refused("outside the scan roots")


def _check_dir(fd: int, home_id: tuple[int, int]) -> None:
    if _identity(os.fstat(fd)) == home_id:
        raise _Refused("the data directory")


def _openable(name: str, dir_fd: int) -> None:
    """Refuse before opening what is neither a file nor a folder: opening a device can act on it. (The
    descriptor's own ``fstat`` after opening stays the check that counts.)"""
    mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise _Refused("a symlink, FIFO, socket or device")


def _walk_to(root: ScanRoot, parts: tuple[str, ...], home_id: tuple[int, int]) -> int:
    """A descriptor for ``parts`` below the root, opened component by component with O_NOFOLLOW (the caller
    closes it). Directories on the way must not be the data directory."""
    fd = os.dup(root.fd)
    try:
        _check_dir(fd, home_id)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                if last:
                    _openable(part, fd)
                child = os.open(part, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                raise _Refused(f"cannot open {part!r} without following links: {exc.strerror}") from None
            os.close(fd)
            fd = child
            if not last:
                _check_dir(fd, home_id)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _check_file(fd: int) -> os.stat_result:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise _Refused("not a regular file or folder")
    if st.st_nlink != 1:
        raise _Refused(f"a file with {st.st_nlink} hard links")
    return st


def _proc_fd(fd: int) -> str:
    for base in ("/proc/self/fd", "/dev/fd"):
        if os.path.isdir(base):
            return f"{base}/{fd}"
    raise OSError("this system has no /proc/self/fd: server-side scans cannot read by descriptor")


class PinnedPath(PosixPath):
    """A validated file's path as shown (``str()``, ``.name``: what records and errors say), which every
    ``open``/``stat`` reaches through a descriptor opened beneath the root (``__fspath__``), never by name."""

    _pin: _Pin | None

    def __fspath__(self) -> str:
        pin = getattr(self, "_pin", None)
        if pin is None:  # a path derived from this one (``.parent``): an ordinary path
            return super().__fspath__()
        return pin.descriptor_path()

    def release(self) -> None:
        """Close the read-time descriptor once this file has been read (RecordReader calls this)."""
        pin = getattr(self, "_pin", None)
        if pin is not None:
            pin.close()


@dataclass
class _Pin:
    root: ScanRoot
    parts: tuple[str, ...]
    identity: tuple[int, int]
    home_id: tuple[int, int]
    fd: int | None = None

    def descriptor_path(self) -> str:
        if self.fd is None:
            try:
                fd = _walk_to(self.root, self.parts, self.home_id)
            except _Refused as exc:
                raise PermissionError(f"refused at read time: {exc}") from None
            try:
                st = _check_file(fd)
            except _Refused as exc:
                os.close(fd)
                raise PermissionError(f"refused at read time: {exc}") from None
            if _identity(st) != self.identity:
                os.close(fd)
                raise PermissionError("refused at read time: the file was replaced after the request")
            self.fd = fd
        return _proc_fd(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass
class ScanFiles:
    """The files one request may read, with the root descriptors they are read through. Close it (or use it
    as a context manager) when the submission is over."""

    paths: list[PinnedPath]
    roots: list[ScanRoot] = field(default_factory=list)

    def close(self) -> None:
        for path in self.paths:
            path.release()
        for root in self.roots:
            with contextlib.suppress(OSError):
                os.close(root.fd)
        self.roots = []

    def __enter__(self) -> ScanFiles:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _pinned(shown: str, pin: _Pin) -> PinnedPath:
    path = PinnedPath(shown)
    path._pin = pin
    return path


def _expand(root: ScanRoot, parts: tuple[str, ...], fd: int, home_id: tuple[int, int],
            shown: str) -> Iterator[PinnedPath]:
    """The regular files of the open folder ``fd`` (sorted, its files before its sub-folders, dot-names
    skipped, as before), each opened and checked by descriptor; anything else in it refuses the request."""
    names = sorted(name for name in os.listdir(fd) if not name.startswith("."))
    folders = []
    for name in names:
        try:
            _openable(name, fd)
            child = os.open(name, _FILE_FLAGS, dir_fd=fd)
        except OSError as exc:
            raise _Refused(f"{name!r}: {exc.strerror}") from None
        try:
            st = os.fstat(child)
            if stat.S_ISDIR(st.st_mode):
                folders.append(name)
                continue
            st = _check_file(child)
        finally:
            os.close(child)
        yield _pinned(f"{shown}/{name}", _Pin(root, (*parts, name), _identity(st), home_id))
    for name in folders:
        child = os.open(name, _DIR_FLAGS, dir_fd=fd)
        try:
            _check_dir(child, home_id)
            yield from _expand(root, (*parts, name), child, home_id, f"{shown}/{name}")
        finally:
            os.close(child)


def open_scan_files(path: str, roots: Sequence[Path], home: Path) -> ScanFiles:
    """The regular files a server-side scan of ``path`` may read, pinned to their descriptors' identity, or
    ScanPathRefused with one message for every refused path."""
    if not roots:
        raise ScanPathRefused("server-side path scans are disabled on this server",
                              hint="set PROVENANCE_SCAN_ROOTS to the folders the API may read, or send the texts "
                                   "in the request")
    if not path or "\x00" in path:
        raise ScanPathRefused("cannot scan an empty path", hint="give a file or folder inside PROVENANCE_SCAN_ROOTS")
    opened = open_roots(roots, home)
    files = ScanFiles([], opened)
    shown = repr(path)
    try:
        try:
            home_id = _identity(os.stat(os.path.expanduser(str(home))))
        except OSError:
            home_id = (-1, -1)
        try:
            root, parts = _locate(path, opened)
            fd = _walk_to(root, parts, home_id)
        except _Refused as exc:
            raise _refusal(shown, str(exc)) from None
        try:
            st = os.fstat(fd)
            shown_path = os.path.normpath(os.path.expanduser(path))
            if stat.S_ISDIR(st.st_mode):
                _check_dir(fd, home_id)
                for pinned in _expand(root, parts, fd, home_id, shown_path):
                    files.paths.append(pinned)
                    if len(files.paths) > MAX_FILES:
                        raise ScanPathRefused(f"{path!r} holds more than {MAX_FILES} files",
                                              hint="scan its sub-folders one at a time")
            else:
                st = _check_file(fd)
                files.paths.append(_pinned(shown_path, _Pin(root, parts, _identity(st), home_id)))
        except _Refused as exc:
            raise _refusal(shown, str(exc)) from None
        finally:
            os.close(fd)
        if not files.paths:
            raise ScanPathRefused(f"nothing to scan in {path!r}", hint="the folder has no files")
        return files
    except BaseException:
        files.close()
        raise


def allowed_scan_files(path: str, roots: Sequence[Path], home: Path) -> list[Path]:
    """The paths (as given, normalised) a server-side scan of ``path`` would read, or ScanPathRefused: the
    request-time check alone. Readers must use ``open_scan_files`` so that what they read is what was checked."""
    with open_scan_files(path, roots, home) as files:
        return [Path(str(pinned)) for pinned in files.paths]
