"""Artifacts through the store: what a host needs besides the model comes from the database, not a copied home.

``publish`` packs the data home's serving artifacts into the ``artifacts`` table and points ``active_artifacts``
at them: the ``keys`` directory (the platform's Ed25519 signing key, watermark keys, PII keys), the active
detector bundle with its signed promotion state, the toxicity bundle and the memorisation index. ``sync`` does
the reverse on a host whose home may be empty: for every kind whose active digest differs from the one it last
installed, it fetches the archive, checks its SHA-256, verifies the signatures the loaders would verify (the
bundle's ``signature.json``, the promotion state, each index's ``.sig.json``) against the platform key that
arrived with ``keys``, and only then swaps it into the home. What was installed is remembered by digest in
``<home>/.artifacts/active.json``, so a host that is current pays one small query (workers ask once per chunk).

Secrets never sit in the database in the clear: the ``keys`` archive is AES-256-GCM under a key-encryption key
derived (HKDF-SHA256) from ``PROVENANCE_SECRET_KEY`` (or the file ``PROVENANCE_SECRET_KEY_FILE`` names), which
the operator gives every host and which is never written to the database. GCM authenticates too: someone who
can write the database but does not hold that key cannot substitute a signing key, so cannot forge a bundle.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provenance.errors import ProvenanceError
from provenance.settings import Settings

KEYS = "keys"
DETECTOR = "detector-bundle"
TOXICITY = "toxicity-bundle"
INDEX = "memorisation-index"
KINDS = (KEYS, DETECTOR, TOXICITY, INDEX)  # install order: the signing key first, it verifies the rest
MIN_SECRET_CHARS = 16
SECRET_HINT = ("set PROVENANCE_SECRET_KEY (or PROVENANCE_SECRET_KEY_FILE) to the same value on every host; make "
               "one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
PUBLISH_HINT = "run provenance artifacts publish on the host whose data home holds the trained bundles and keys"


class ArtifactStoreError(ProvenanceError):
    """An artifact that cannot be published or installed; nothing in the home was changed."""


# --- the key-encryption key ---------------------------------------------------------------------------------

def key_encryption_key(settings: Settings) -> bytes:
    """32 bytes derived from the operator's secret; a clear error when it is missing or too short."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    reveal = getattr(settings.secret_key, "get_secret_value", None)
    secret = reveal() if callable(reveal) else str(settings.secret_key or "")
    if not secret and settings.secret_key_file is not None:
        try:
            secret = Path(settings.secret_key_file).expanduser().read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ArtifactStoreError(f"cannot read PROVENANCE_SECRET_KEY_FILE {settings.secret_key_file}: "
                                     f"{exc.__class__.__name__}", hint=SECRET_HINT) from None
    if not secret:
        raise ArtifactStoreError("PROVENANCE_SECRET_KEY is not set: the keys in the store are encrypted with it",
                                 hint=SECRET_HINT)
    if len(secret) < MIN_SECRET_CHARS:
        raise ArtifactStoreError(f"PROVENANCE_SECRET_KEY is shorter than {MIN_SECRET_CHARS} characters",
                                 hint=SECRET_HINT)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"provenance-artifact-store",
                info=b"key-encryption-key v1").derive(secret.encode("utf-8"))


def _encrypt(kek: bytes, plain: bytes, kind: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return nonce + AESGCM(kek).encrypt(nonce, plain, kind.encode())


def _decrypt(kek: bytes, blob: bytes, kind: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(kek).decrypt(blob[:12], blob[12:], kind.encode())
    except (InvalidTag, ValueError):
        raise ArtifactStoreError(f"the {kind} in the store does not decrypt with this PROVENANCE_SECRET_KEY "
                                 "(another key published it, or it was altered)",
                                 hint="use the key-encryption key of the publishing host") from None


# --- small secrets in database columns (a job's callback secret) -------------------------------------------

SEALED_PREFIX = "e1:"  # never the start of a plain secret (hex); 3 + 123 characters for a 64-character secret


def secret_key_configured(settings: Settings) -> bool:
    """Whether the operator gave a key-encryption key (``PROVENANCE_SECRET_KEY`` or ``_FILE``)."""
    reveal = getattr(settings.secret_key, "get_secret_value", None)
    return bool(reveal() if callable(reveal) else settings.secret_key) or settings.secret_key_file is not None


def seal_text(settings: Settings, plain: str, context: str) -> str:
    """``plain`` encrypted (AES-256-GCM under the key-encryption key, ``context`` authenticated with it, so a
    sealed value copied to another row does not open there) when a key is configured; else ``plain`` as is."""
    import base64

    if not secret_key_configured(settings):
        return plain
    blob = _encrypt(key_encryption_key(settings), plain.encode("utf-8"), context)
    return SEALED_PREFIX + base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=")


def open_text(settings: Settings, stored: str, context: str) -> str:
    """The plain value of ``seal_text``'s output; a value stored before a key was configured is plain and
    returned as is. A sealed value without the key (or with another key) is a clear ArtifactStoreError."""
    import base64

    if not stored.startswith(SEALED_PREFIX):
        return stored
    encoded = stored[len(SEALED_PREFIX):]
    try:
        blob = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError:
        raise ArtifactStoreError(f"the stored {context} is not a valid sealed value") from None
    return _decrypt(key_encryption_key(settings), blob, context).decode("utf-8")


# --- archives -----------------------------------------------------------------------------------------------

def _files(directory: Path, prefix: str) -> list[tuple[str, Path]]:
    """Regular files below ``directory`` as (archive name, path); temporary dot-files are left out."""
    found = []
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts) or not stat.S_ISREG(os.lstat(path).st_mode):
            continue
        found.append((f"{prefix}{relative.as_posix()}", path))
    return found


def pack(entries: list[tuple[str, Path]]) -> bytes:
    """A tar whose bytes depend only on names, contents and modes (the digest names the content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, path in sorted(entries):
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), stat.S_IMODE(path.stat().st_mode), 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _unpack(plain: bytes, target: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r") as tar:
        tar.extractall(target, filter="data")  # no absolute names, no "..", no links out of the target


def _collect(settings: Settings, kind: str) -> tuple[str, list[tuple[str, Path]]] | None:
    """(name, archive entries) of one kind in this home, verified as its loader would; None when absent."""
    from provenance.artifact_signing import verify_directory, verify_index
    from provenance.bundles import DETECTOR_KIND, active_bundle_name, bundle_dir, read_bundle_card, state_path
    from provenance.signing import keys_dir, load_or_create_signing_key
    from provenance.toxicity import TOXICITY_KIND, toxicity_bundle_dir

    home = settings.home
    if kind == KEYS:
        load_or_create_signing_key(home)
        return "keys", _files(keys_dir(home), "keys/")
    if kind == DETECTOR:
        name = active_bundle_name(settings)
        directory = bundle_dir(settings, name)
        if "/" in name or read_bundle_card(directory) is None:
            return None
        verify_directory(home, directory, DETECTOR_KIND)
        entries = _files(directory, "bundle/")
        if state_path(settings).is_file():
            entries.append(("active.json", state_path(settings)))
        return name, entries
    if kind == TOXICITY:
        directory = toxicity_bundle_dir(settings)
        if "/" in settings.toxicity_bundle or not (directory / "card.json").is_file():
            return None
        verify_directory(home, directory, TOXICITY_KIND)
        return settings.toxicity_bundle, _files(directory, "bundle/")
    directory = home / "models" / "memorisation"
    entries = _files(directory, "index/") if directory.is_dir() else []
    for _name, path in entries:
        if path.suffix == ".bloom":
            verify_index(home, path)
    return ("memorisation", entries) if entries else None


# --- publish ------------------------------------------------------------------------------------------------

def publish(settings: Settings, kinds: tuple[str, ...] = KINDS, *, actor: str = "cli") -> list[dict[str, Any]]:
    """Publish this home's artifacts of ``kinds`` and make them the active ones (audited). An archive already
    in the store (same kind and digest) is not stored twice."""
    from sqlalchemy import select

    from provenance.store import ActiveArtifact, Artifact, ensure_schema, session_scope, utcnow
    from provenance.store.audit import audit

    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ArtifactStoreError(f"unknown artifact kind(s): {', '.join(unknown)}", hint="one of " + ", ".join(KINDS))
    kek = key_encryption_key(settings) if KEYS in kinds else b""
    ensure_schema(settings.resolved_database_url)
    published = []
    with session_scope(settings.resolved_database_url) as session:
        for kind in kinds:
            collected = _collect(settings, kind)
            if collected is None:
                continue
            name, entries = collected
            plain = pack(entries)
            digest = hashlib.sha256(plain).hexdigest()
            row = session.scalars(select(Artifact).where(Artifact.kind == kind, Artifact.digest == digest)).first()
            if row is None:
                payload = _encrypt(kek, plain, kind) if kind == KEYS else plain
                row = Artifact(kind=kind, name=name, digest=digest, size=len(plain), encrypted=kind == KEYS,
                               payload=payload, published_by=actor)
                session.add(row)
                session.flush()
            pointer = session.get(ActiveArtifact, kind)
            if pointer is None:
                session.add(ActiveArtifact(kind=kind, artifact_id=row.id, digest=digest))
            else:
                pointer.artifact_id, pointer.digest, pointer.updated_at = row.id, digest, utcnow()
            audit(session, actor=actor, action="artifacts.publish", subject_type="artifact", subject_id=kind,
                  details={"name": name, "digest": digest, "size": len(plain)})
            published.append({"kind": kind, "name": name, "digest": digest, "size": len(plain),
                              "files": len(entries)})
    return published


def store_in_use(settings: Settings) -> bool:
    """True once anything was published: promotions then publish too, so other hosts follow them."""
    from sqlalchemy import func, select

    from provenance.store import ActiveArtifact, ensure_schema, session_scope

    ensure_schema(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as session:
        return bool(session.scalar(select(func.count()).select_from(ActiveArtifact)))


# --- sync ---------------------------------------------------------------------------------------------------

def _state_dir(home: Path) -> Path:
    return Path(home) / ".artifacts"


def installed(home: Path) -> dict[str, str]:
    """{kind: digest} this home last installed from the store."""
    try:
        data = json.loads((_state_dir(home) / "active.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _remember(home: Path, digests: dict[str, str]) -> None:
    target = _state_dir(home) / "active.json"
    staging = target.with_name(f".active.{os.getpid()}.tmp")
    staging.write_text(json.dumps(digests, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(staging, target)


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """One installer per home at a time (a worker's pool processes share its home)."""
    directory = _state_dir(home)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(directory / "lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def active_digests(settings: Settings) -> dict[str, str]:
    """{kind: digest} every host should serve."""
    from sqlalchemy import select

    from provenance.store import ActiveArtifact, ensure_schema, session_scope

    ensure_schema(settings.resolved_database_url)
    with session_scope(settings.resolved_database_url) as session:
        return dict(session.execute(select(ActiveArtifact.kind, ActiveArtifact.digest)).all())


def sync(settings: Settings) -> dict[str, str]:
    """Bring the home up to the store's active artifacts: {kind: "installed" | "current"}. Cheap when current
    (one query, no lock). Raises ArtifactStoreError, with nothing changed for that kind, on a bad archive."""
    home = settings.home
    active = active_digests(settings)
    if not active:
        raise ArtifactStoreError("the database holds no published artifacts (bundles, keys)", hint=PUBLISH_HINT)
    if all(installed(home).get(kind) == digest for kind, digest in active.items()):
        return dict.fromkeys(active, "current")
    outcome = {}
    with _locked(home):
        done = installed(home)
        for kind in (kind for kind in KINDS if kind in active):
            if done.get(kind) == active[kind]:
                outcome[kind] = "current"
                continue
            _install(settings, kind, _fetch(settings, kind, active[kind]))
            done[kind] = active[kind]
            _remember(home, done)
            outcome[kind] = "installed"
    return outcome


def _fetch(settings: Settings, kind: str, digest: str) -> tuple[str, bytes]:
    from sqlalchemy import select

    from provenance.store import Artifact, session_scope

    with session_scope(settings.resolved_database_url) as session:
        row = session.scalars(select(Artifact).where(Artifact.kind == kind, Artifact.digest == digest)).first()
        if row is None:
            raise ArtifactStoreError(f"the active {kind} ({digest[:12]}) is missing from the store", hint=PUBLISH_HINT)
        name, payload, encrypted = row.name, bytes(row.payload), row.encrypted
    plain = _decrypt(key_encryption_key(settings), payload, kind) if encrypted else payload
    if hashlib.sha256(plain).hexdigest() != digest:
        raise ArtifactStoreError(f"the {kind} archive {name!r} in the store does not match its digest {digest[:12]}",
                                 hint="publish it again from the host that holds it")
    return name, plain


def _safe_name(name: str, kind: str) -> str:
    from provenance.bundles import SAFE_NAME_CHARS

    if not name or "/" in name or name.startswith(".") or not set(name) <= SAFE_NAME_CHARS:
        raise ArtifactStoreError(f"the {kind} in the store has an unusable name {name!r}", hint=PUBLISH_HINT)
    return name


def _install(settings: Settings, kind: str, fetched: tuple[str, bytes]) -> None:
    name, plain = fetched
    home = Path(settings.home)
    staging = Path(tempfile.mkdtemp(prefix=f"{kind}.", dir=_state_dir(home)))
    try:
        _unpack(plain, staging)
        if kind == KEYS:
            _install_keys(home, staging / "keys")
        elif kind in (DETECTOR, TOXICITY):
            _install_bundle(settings, kind, _safe_name(name, kind), staging)
        else:
            _install_index(home, staging / "index")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace_file(source: Path, target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, staging)
    os.chmod(staging, mode)
    os.replace(staging, target)


def _install_keys(home: Path, source: Path) -> None:
    """The published keys directory becomes this home's (0600 files in a 0700 folder). A home that already
    made a *different* signing key is refused: silently replacing it would orphan what it signed."""
    from provenance.signing import SIGNING_KEY_FILE, keys_dir

    target = keys_dir(home)
    mine, theirs = target / SIGNING_KEY_FILE, source / SIGNING_KEY_FILE
    if not theirs.is_file():
        raise ArtifactStoreError("the keys archive in the store holds no signing key", hint=PUBLISH_HINT)
    if mine.is_file() and mine.read_bytes() != theirs.read_bytes():
        raise ArtifactStoreError(f"{home} already has its own signing key, not the platform's",
                                 hint="start this host with an empty PROVENANCE_HOME (or move its keys folder away)")
    published = {path.relative_to(source) for path in source.rglob("*") if path.is_file()}
    for relative in sorted(published):
        _replace_file(source / relative, target / relative, 0o600)
    watermark = target / "watermark"
    for stale in watermark.glob("wm-*.json") if watermark.is_dir() else []:
        if stale.relative_to(target) not in published:  # mirror the publisher: its key set is the truth
            stale.unlink()


def _install_bundle(settings: Settings, kind: str, name: str, staging: Path) -> None:
    """Verify the bundle (and the promotion state) with the platform key, then swap the folder in."""
    from provenance.artifact_signing import file_digests, verify_directory, verify_document
    from provenance.bundles import DETECTOR_KIND
    from provenance.toxicity import TOXICITY_KIND

    home = Path(settings.home)
    bundle = staging / "bundle"
    verify_directory(home, bundle, DETECTOR_KIND if kind == DETECTOR else TOXICITY_KIND)
    state = staging / "active.json"
    if state.is_file():  # signed as provenance.bundles.write_state signs it; it must name this very bundle
        try:
            document = json.loads(state.read_text(encoding="utf-8"))
        except ValueError:
            raise ArtifactStoreError("the promotion state in the store is not JSON", hint=PUBLISH_HINT) from None
        body = {"active": document.get("active"), "history": document.get("history") or []}
        verify_document(home, {"payload": body, "signature": document.get("signature")},
                        "the promotion state in the store")
        if body["active"] != name:
            raise ArtifactStoreError(f"the promotion state in the store names {body['active']!r}, its bundle is "
                                     f"{name!r}", hint=PUBLISH_HINT)
    target = settings.detectors_dir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_dir() or file_digests(target) != file_digests(bundle) or \
            not (target / "signature.json").is_file():
        moved = target.with_name(f".{name}.old.{os.getpid()}")
        if target.exists():
            os.replace(target, moved)
        shutil.move(str(bundle), str(target))
        shutil.rmtree(moved, ignore_errors=True)
    if state.is_file():
        _replace_file(state, settings.detectors_dir / "active.json", 0o644)


def _install_index(home: Path, source: Path) -> None:
    from provenance.artifact_signing import verify_index

    for index in sorted(source.glob("*.bloom")):
        verify_index(home, index)  # against the platform key the keys archive installed
    target = home / "models" / "memorisation"
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        _replace_file(path, target / path.relative_to(source), 0o644)
