"""Artifacts signed by this installation: detector and toxicity bundles (pickles), the promotion state, the
ONNX export cache and the memorisation index (``sign_index``/``verify_index``, its own policy below).

Why: a bundle's card records its pickle's SHA-256, but card and pickle sit in the same folder, so whoever can
change one can change both; the hash stops corruption, not tampering, and unpickling runs code. Here every
artifact directory the platform writes gets ``signature.json``: the SHA-256 of *every* file in it (the card
included) and the artifact kind, signed with the platform's Ed25519 key (``provenance.signing``, the key that
signs manifests, kept 0600 in ``<home>/keys``). Loaders verify it before anything is unpickled: a changed,
added or removed file, another kind, or another installation's signature is refused with an error naming the
file. A bundle made elsewhere enters only through ``provenance detect import-bundle`` (audited), which checks
it against its own card, copies it in and signs it here.

What this does not protect against: someone who can read the signing key (the data directory's owner) can
sign anything; a bundle that was signed here once can be copied back later (the signature binds the content,
not a version number).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from generator.hashing import file_sha256
from provenance.errors import ProvenanceError

SIGNATURE_FILE = "signature.json"
SIGNATURE_FORMAT = 1
IMPORT_HINT = ("a bundle made elsewhere, that you trust, is imported with provenance detect import-bundle DIR "
               "--name NAME")


class ArtifactSignatureError(ProvenanceError):
    """An artifact this installation did not sign, or that changed since: it is not loaded."""


def _key(home: Path) -> Ed25519PrivateKey:
    from provenance.signing import load_or_create_signing_key

    return load_or_create_signing_key(home)


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key (names the key in errors and signatures)."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def file_digests(directory: Path) -> dict[str, str]:
    """SHA-256 of every file below ``directory`` (relative POSIX names), the signature file excepted. A symlink
    or special file is refused: what is signed must be the bytes that are read."""
    digests: dict[str, str] = {}
    for folder, directories, names in os.walk(directory, followlinks=False):
        for name in directories:
            if (Path(folder) / name).is_symlink():
                raise ArtifactSignatureError(f"{Path(folder) / name} is a symlink inside a signed artifact",
                                             hint="artifacts hold regular files only")
        for name in names:
            path = Path(folder) / name
            relative = path.relative_to(directory).as_posix()
            if relative == SIGNATURE_FILE:
                continue
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise ArtifactSignatureError(f"{path} is not a regular file inside a signed artifact",
                                             hint="artifacts hold regular files only")
            digests[relative] = file_sha256(path)
    return dict(sorted(digests.items()))


def sign_directory(home: Path, directory: Path, kind: str) -> dict[str, Any]:
    """Write ``<directory>/signature.json`` over every file now in ``directory``; returns the signed payload."""
    key = _key(home)
    files = file_digests(directory)
    payload = {"format": SIGNATURE_FORMAT, "kind": kind, "files": files, "card_sha256": files.get("card.json"),
               "key_id": key_id(key.public_key()),
               "signed_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    signature = base64.b64encode(key.sign(canonical(payload))).decode("ascii")
    (directory / SIGNATURE_FILE).write_text(json.dumps({"payload": payload, "signature": signature}, indent=2)
                                            + "\n", encoding="utf-8")
    return payload


def _read_signature(path: Path, *, missing: Callable[[], Exception],
                    unreadable: Callable[[Exception], Exception]) -> Any:
    """The parsed signature document at ``path``. A missing and an unreadable signature mean different things to
    each caller (a bundle refuses both; an index without one is merely unsigned), so each names its own errors."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise missing() from None
    except (OSError, json.JSONDecodeError) as exc:
        raise unreadable(exc) from None


def _signed_payload(home: Path, document: Any, what: str) -> dict[str, Any]:
    """The payload of a ``{"payload", "signature"}`` document when this installation's key signed it."""
    if not isinstance(document, dict) or not isinstance(document.get("payload"), dict):
        raise ArtifactSignatureError(f"{what} carries no readable signature", hint=IMPORT_HINT)
    payload = document["payload"]
    public = _key(home).public_key()
    try:
        public.verify(base64.b64decode(str(document.get("signature", "")), validate=True), canonical(payload))
    except (InvalidSignature, ValueError):
        other = payload.get("key_id")
        by = f" (it names key {other}, this installation's is {key_id(public)})" if other != key_id(public) else ""
        raise ArtifactSignatureError(f"{what} is not signed by this installation's key or was altered{by}",
                                     hint=IMPORT_HINT) from None
    return payload


def verify_directory(home: Path, directory: Path, kind: str, *, hint: str | None = None) -> dict[str, Any]:
    """Refuse ``directory`` unless its signature is this installation's, for ``kind``, over exactly the files
    it holds now. Called before anything in it is unpickled. ``hint`` replaces the import hint (caches)."""
    try:
        return _verify_directory(home, directory, kind)
    except ArtifactSignatureError as exc:
        if hint is None:
            raise
        raise ArtifactSignatureError(str(exc), hint=f"{hint}: {directory}") from None


def _verify_directory(home: Path, directory: Path, kind: str) -> dict[str, Any]:
    signature_path = directory / SIGNATURE_FILE
    document = _read_signature(
        signature_path,
        missing=lambda: ArtifactSignatureError(f"{kind} {directory} is not signed by this installation "
                                               f"({SIGNATURE_FILE} is missing), so nothing in it is unpickled",
                                               hint=IMPORT_HINT),
        unreadable=lambda exc: ArtifactSignatureError(f"{signature_path} is unreadable: {exc}", hint=IMPORT_HINT))
    payload = _signed_payload(home, document, f"{kind} {directory}")
    if payload.get("kind") != kind:
        raise ArtifactSignatureError(f"{directory} was signed as a {payload.get('kind')}, not a {kind}",
                                     hint="point the setting at a bundle of the right kind")
    signed = payload.get("files") or {}
    current = file_digests(directory)
    changed = sorted(name for name in signed if name in current and current[name] != signed[name])
    missing = sorted(name for name in signed if name not in current)
    added = sorted(name for name in current if name not in signed)
    problems = ([f"changed after signing: {', '.join(str(directory / n) for n in changed)}"] if changed else []) + \
               ([f"missing: {', '.join(str(directory / n) for n in missing)}"] if missing else []) + \
               ([f"not signed: {', '.join(str(directory / n) for n in added)}"] if added else [])
    if problems:
        raise ArtifactSignatureError(f"{kind} {directory} does not match its signature ({'; '.join(problems)}): "
                                     "nothing in it is unpickled",
                                     hint="retrain it, or restore the signed files; " + IMPORT_HINT)
    return payload


def sign_document(home: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """``{"payload": ..., "signature": ...}`` for a small JSON state (the promotion state)."""
    key = _key(home)
    return {"payload": payload, "signature": base64.b64encode(key.sign(canonical(payload))).decode("ascii")}


def verify_document(home: Path, document: Any, what: str) -> dict[str, Any]:
    return _signed_payload(home, document, what)


def sealer(home: Path, kind: str) -> Callable[[Path], None]:
    """For ``detect``'s ``save_*(..., seal=)``: sign the staging directory before it is swapped in (``detect``
    is a library and never imports ``provenance``, so the key stays on this side)."""
    def seal(staging: Path) -> None:
        sign_directory(home, staging, kind)

    return seal


def verifier(home: Path, kind: str, *, hint: str | None = None) -> Callable[[Path], None]:
    """For ``detect``'s ``load_*(..., verify=)``: called before anything is unpickled; raises to refuse."""
    def verify(directory: Path) -> None:
        verify_directory(home, directory, kind, hint=hint)

    return verify


# --- the memorisation index (a file and its card, not a directory) --------------------------------------------

INDEX_KIND = "memorisation-index"
INDEX_HINT = ("rebuild it: provenance model memorisation-index --corpus DIR --rebuild (an index beside a model "
              "the platform trained: retrain the model, or delete the index to run the guard model-free)")


def sign_index(home: Path, index_path: Path) -> dict[str, Any]:
    """Write ``<index>.sig.json``: this installation's signature over the index file's and its card's SHA-256."""
    from generator.ngram_index import card_path, signature_path

    index_path = Path(index_path)
    payload = {"format": SIGNATURE_FORMAT, "kind": INDEX_KIND, "index_file": index_path.name,
               "index_sha256": file_sha256(index_path), "card_sha256": file_sha256(card_path(index_path)),
               "key_id": key_id(_key(home).public_key()),
               "signed_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    target = signature_path(index_path)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    staging.write_text(json.dumps(sign_document(home, payload), indent=2) + "\n", encoding="utf-8")
    os.replace(staging, target)
    return payload


def verify_index(home: Path, index_path: Path) -> dict[str, Any]:
    """Refuse a memorisation index unless this installation signed exactly this index file and card.

    Refusals raise ``detect``'s ``DetectionError`` naming the file (the guard's callers report those): another
    key's signature, an altered signature, or an index or card changed since signing (even re-hashed so the two
    agree). An index with a card but *no* signature raises ``UnsignedIndexError``, which the guard treats like an
    index without a card: skipped with a warning, the guard falls back to the model-free signal. This departs
    from the bundles' precedent (an unsigned bundle is refused) on purpose: a bundle is unpickled, so running an
    unsigned one runs unknown code, whereas skipping an index only does what deleting it would, and indexes
    written by older versions, or beside models trained outside this home, keep scans running.
    """
    from detect.errors import DetectionError
    from detect.ngram_index import UnsignedIndexError
    from generator.ngram_index import card_path, signature_path

    index_path = Path(index_path)
    where = signature_path(index_path)
    document = _read_signature(
        where,
        missing=lambda: UnsignedIndexError(f"memorisation index {index_path} is not signed ({where.name} is "
                                           "missing: an older version wrote it), so it is not used", hint=INDEX_HINT),
        unreadable=lambda exc: DetectionError(f"memorisation index {index_path}: signature {where} is unreadable "
                                              f"({exc})", hint=INDEX_HINT))
    try:
        payload = _signed_payload(home, document, f"memorisation index {index_path}")
    except ArtifactSignatureError as exc:
        raise DetectionError(str(exc), hint=INDEX_HINT) from None
    changed = [name for name, path, field in (("index file", index_path, "index_sha256"),
                                              ("card", card_path(index_path), "card_sha256"))
               if not path.is_file() or file_sha256(path) != payload.get(field)]
    if payload.get("kind") != INDEX_KIND or payload.get("index_file") != index_path.name:
        changed.append(f"signature for {payload.get('kind')} {payload.get('index_file')}")
    if changed:
        raise DetectionError(f"memorisation index {index_path} does not match its signature ({', '.join(changed)} "
                             "changed after signing): it is not used", hint=INDEX_HINT)
    return payload


def index_sealer(home: Path) -> Callable[[Path], None]:
    """For ``detect``'s ``save_with_card(..., seal=)`` / ``write_model_index(..., seal=)``."""
    def seal(index_path: Path) -> None:
        sign_index(home, index_path)

    return seal


def index_verifier(home: Path) -> Callable[[Path], None]:
    """For ``detect``'s ``load_verified(..., verify=)`` / ``MemorisationGuard.for_scorer(..., verify=)``."""
    def verify(index_path: Path) -> None:
        verify_index(home, index_path)

    return verify
