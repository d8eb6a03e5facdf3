"""The platform's Ed25519 signing key: created on first use in the data directory, readable only by its owner.

Manifests are signed with it; anyone holding the exported public key can verify them offline.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from provenance.errors import ProvenanceError as CliError

SIGNING_KEY_FILE = "signing_ed25519.pem"
PUBLIC_KEY_FILE = "signing_ed25519.pub.pem"


def keys_dir(home: Path) -> Path:
    return home / "keys"


def write_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (no window where it is world-readable), atomically: the
    bytes go to a private temporary file that is then hard-linked to ``path``, which fails if ``path`` exists.
    A process racing us therefore sees either no file or the complete one, never a half-written key, and the
    loser gets FileExistsError instead of overwriting the winner's key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    finally:
        os.unlink(temporary)


def load_or_create_signing_key(home: Path) -> Ed25519PrivateKey:
    path = keys_dir(home) / SIGNING_KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            write_private_file(path, pem)
        except FileExistsError:  # another process created it first: use theirs
            pass
        else:
            public = keys_dir(home) / PUBLIC_KEY_FILE
            staging = public.with_name(f".{public.name}.{os.getpid()}")
            staging.write_bytes(public_key_pem(key.public_key()))
            os.replace(staging, public)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError:
        raise CliError(f"signing key {path} is not a valid PEM private key",
                       hint="restore it from backup; deleting it invalidates every manifest signed so far") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CliError(f"signing key {path} is not an Ed25519 key", hint="restore the original key file")
    return key


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read public key {path}: {exc}", hint="export one with provenance keys public") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CliError(f"{path} is not an Ed25519 public key", hint="export one with provenance keys public")
    return key
