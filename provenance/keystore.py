"""Watermark keys on disk: one 0600 JSON file per key under ``<home>/keys/watermark/``.

A key is ``active`` (used to watermark new generations; one per tokenizer), ``verify`` (retired by a rotation
but still tested by detection, so text generated before the rotation is still recognised) or ``revoked``
(never used again). Secrets live only in these files: listings, logs, manifests and errors show ``key_id``.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from provenance.errors import ProvenanceError as CliError
from provenance.signing import keys_dir, write_private_file
from watermark import SCHEMES, WatermarkKey, WatermarkKeyMismatchError, tokenizer_fingerprint
from watermark.schemes import DEFAULT_GAMMA, DEFAULT_SCHEME

STATUSES = ("active", "verify", "revoked")


@dataclass
class StoredKey:
    key: WatermarkKey
    status: str
    created_at: str
    path: Path

    def public(self) -> dict[str, Any]:
        return {**self.key.to_public_dict(), "status": self.status, "created_at": self.created_at}


class KeyStore:
    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.root = keys_dir(home) / "watermark"

    def _read(self, path: Path) -> StoredKey:
        try:
            record = json.loads(path.read_text())
            secret = base64.b64decode(record["secret_b64"], validate=True)
            key = WatermarkKey.from_public_dict(record["public"], secret)
        except (OSError, ValueError, KeyError, WatermarkKeyMismatchError) as exc:
            reason = str(exc).split(":")[0] if isinstance(exc, WatermarkKeyMismatchError) else type(exc).__name__
            raise CliError(f"watermark key file {path.name} is unreadable or inconsistent ({reason})",
                           hint="restore it from backup or move it out of the key directory") from None
        return StoredKey(key, record.get("status", "verify"), record.get("created_at", ""), path)

    def _write(self, stored: StoredKey, *, new: bool) -> None:
        record = {"public": stored.key.to_public_dict(), "status": stored.status, "created_at": stored.created_at,
                  "secret_b64": base64.b64encode(stored.key.secret).decode("ascii")}
        data = (json.dumps(record, indent=2) + "\n").encode()
        if new:
            write_private_file(stored.path, data)
            from provenance.home import remember_model

            remember_model(self.home)  # the home's first key: it now belongs to the resolved model
            return
        staging = stored.path.with_suffix(".tmp")
        staging.unlink(missing_ok=True)
        write_private_file(staging, data)
        os.replace(staging, stored.path)

    def all(self) -> list[StoredKey]:
        if not self.root.is_dir():
            return []
        keys = [self._read(path) for path in sorted(self.root.glob("wm-*.json"))]
        return sorted(keys, key=lambda stored: stored.created_at)

    def for_tokenizer(self, tokenizer: Any) -> list[StoredKey]:
        fingerprint = tokenizer_fingerprint(tokenizer)
        return [stored for stored in self.all() if stored.key.tokenizer_fingerprint == fingerprint]

    def active(self, tokenizer: Any) -> StoredKey | None:
        active = [stored for stored in self.for_tokenizer(tokenizer) if stored.status == "active"]
        return active[-1] if active else None

    def verification_keys(self, tokenizer: Any) -> list[WatermarkKey]:
        """Keys detection must test: active first, then those kept for verification after rotations."""
        usable = [stored for stored in self.for_tokenizer(tokenizer) if stored.status in ("active", "verify")]
        usable.sort(key=lambda stored: (stored.status != "active", stored.created_at))
        return [stored.key for stored in usable]

    def create(self, tokenizer: Any, *, scheme: str = DEFAULT_SCHEME, gamma: float = DEFAULT_GAMMA,
               delta: float | None = None, activate: bool = True) -> StoredKey:
        """A new key (delta None: the scheme's default); it becomes the active one unless ``activate`` is off."""
        if scheme not in SCHEMES or scheme == "hf-lefthash":
            raise CliError(f"cannot create keys for scheme {scheme!r}",
                           hint="use unigram, lefthash or selfhash (hf-lefthash is for verifying transformers' "
                                "output)")
        try:
            key = WatermarkKey.generate(tokenizer, scheme=scheme, gamma=gamma, delta=delta)
        except ValueError as exc:
            raise CliError(f"invalid watermark parameters: {exc}", hint="gamma in (0, 1), delta >= 0") from None
        if activate:
            current = self.active(tokenizer)
            if current is not None:
                current.status = "verify"
                self._write(current, new=False)
        created = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
        stored = StoredKey(key, "active" if activate else "verify", created, self.root / f"{key.key_id}.json")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._write(stored, new=True)
        return stored

    def rotate(self, tokenizer: Any) -> tuple[StoredKey | None, StoredKey]:
        """A new active key with the current one's parameters; the old one stays for verification."""
        current = self.active(tokenizer)
        if current is None:
            return None, self.create(tokenizer)
        replacement = self.create(tokenizer, scheme=current.key.scheme, gamma=current.key.gamma,
                                  delta=current.key.delta)
        return current, replacement

    def set_status(self, key_id: str, status: str) -> StoredKey:
        if status not in STATUSES:
            raise CliError(f"unknown status {status!r}", hint="use one of: " + ", ".join(STATUSES))
        for stored in self.all():
            if stored.key.key_id == key_id:
                stored.status = status
                self._write(stored, new=False)
                return stored
        raise CliError(f"no watermark key {key_id}", hint="see provenance keys list")

    def active_or_create(self, tokenizer: Any) -> StoredKey:
        """The active key for this tokenizer, created on first use (like the signing key)."""
        return self.active(tokenizer) or self.create(tokenizer)
