"""PII as a signal, and the PII configuration and secrets every caller shares (the ``pii`` commands import
these from here: the pipeline must not reach up into the CLI, nor raise the CLI's errors in a worker)."""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from provenance.errors import ProvenanceError
from provenance.settings import Settings
from provenance.signals.base import Availability, BaseSignal, SignalResult
from provenance.signing import keys_dir, write_private_file

HMAC_KEY_FILE = "pii_hmac.key"
AES_KEY_FILE = "pii_aes.key"


def pii_config(settings: Settings) -> Any:
    """The library's ``PIIConfig`` from the application's settings."""
    from detect.pii import PIIConfig

    return PIIConfig.build(entities=settings.pii_entities, allow_list=settings.pii_allow_list,
                           deny_list=settings.pii_deny_list, thresholds=settings.pii_thresholds,
                           n_process=settings.pii_processes)


def _stored_secret(home: Path, name: str, size: int, create: bool) -> bytes | None:
    path = keys_dir(home) / name
    if not path.exists():
        if not create:
            return None
        with contextlib.suppress(FileExistsError):  # another process created it first: use theirs
            write_private_file(path, base64.b64encode(secrets.token_bytes(size)) + b"\n")
    try:
        value = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (OSError, ValueError):
        raise ProvenanceError(f"PII key file {path} is unreadable", hint="restore it from backup") from None
    if len(value) != size:
        raise ProvenanceError(f"PII key file {path} holds {len(value)} bytes, expected {size}",
                              hint="restore it from backup")
    return value


def hmac_secret(settings: Settings) -> bytes:
    """PROVENANCE_PII_HMAC_SECRET, else <home>/keys/pii_hmac.key (32 random bytes, created on first use)."""
    if settings.pii_hmac_secret is not None and settings.pii_hmac_secret.get_secret_value():
        return settings.pii_hmac_secret.get_secret_value().encode()
    secret = _stored_secret(settings.home, HMAC_KEY_FILE, 32, create=True)
    assert secret is not None
    return secret


def encryption_key(settings: Settings, create: bool) -> bytes:
    """PROVENANCE_PII_ENCRYPTION_KEY (16/24/32 characters, or base64 of 16/24/32 bytes), else <home>/keys."""
    if settings.pii_encryption_key is not None and settings.pii_encryption_key.get_secret_value():
        raw = settings.pii_encryption_key.get_secret_value()
        if len(raw.encode()) in (16, 24, 32):
            return raw.encode()
        try:
            decoded = base64.b64decode(raw, validate=True)
        except ValueError:
            decoded = b""
        if len(decoded) in (16, 24, 32):
            return decoded
        raise ProvenanceError(
            "PROVENANCE_PII_ENCRYPTION_KEY must be 16, 24 or 32 characters (or base64 of that many bytes)",
            hint="generate one with: python -c 'import secrets; print(secrets.token_urlsafe(24))'")
    key = _stored_secret(settings.home, AES_KEY_FILE, 32, create=create)
    if key is None:
        raise ProvenanceError(f"no PII encryption key in {keys_dir(settings.home)}",
                              hint="restore needs the key used by `pii redact --operator encrypt` "
                                   "(PROVENANCE_PII_ENCRYPTION_KEY or <home>/keys/pii_aes.key)")
    return key


def build_analyzer(config: Any) -> Any:
    """The one place a PII analyzer is constructed (the signal, and the ``pii`` commands with their config)."""
    from detect.pii import get_analyzer

    return get_analyzer(config)


def build_redactor(settings: Settings, operator: str) -> Any:
    """``(text, entities) -> Redaction`` with the operator's secret or key (the one place they are combined)."""
    from detect.pii.operators import redact

    secret = hmac_secret(settings) if operator == "hash" else None
    key = encryption_key(settings, create=True) if operator == "encrypt" else None
    return lambda text, entities: redact(text, entities, operator, secret=secret, key=key)


@dataclass
class PIIResult(SignalResult):
    """``items`` index ``redacted_text``; ``mapping`` is (original start, original end, redacted start,
    redacted end) per item, so offsets computed on the original text can be moved onto the stored one."""

    redacted_text: str
    items: list[dict[str, Any]] = field(default_factory=list)
    mapping: list[tuple[int, int, int, int]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The findings (offsets in the redacted text, which the document row keeps), their count and their
        types as ``,EMAIL_ADDRESS,PERSON,`` (the indexed column's form, for SQL ``LIKE '%,TYPE,%'``)."""
        types = sorted({item["type"] for item in self.items})
        return {"items": self.items, "count": len(self.items),
                "types": "," + ",".join(types) + "," if types else ""}


class PIISignal(BaseSignal):
    """Presidio + spaCy with the configured entities, lists and operator (one process, no sub-processes)."""

    name = "pii"
    indexed = {"pii_count": "count", "pii_types": "types"}
    flat = {"export": ("pii_count", "pii_types", "pii"), "api": ("pii", "pii_count")}
    EXPORT_KEYS = ("type", "start", "end", "original_start", "original_end", "operator")  # each finding's

    @classmethod
    def flat_fields(cls, records: Mapping[str, Any], view: str) -> dict[str, Any]:
        record = records.get(cls.name) or {}
        items = record.get("items") or []
        if view == "api":
            return {"pii": items, "pii_count": int(record.get("count") or 0)}
        return {"pii_count": int(record.get("count") or 0),
                "pii_types": [t for t in (record.get("types") or "").split(",") if t],
                "pii": [{key: item.get(key) for key in cls.EXPORT_KEYS} for item in items]}

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def version(self) -> str:
        return f"operator:{self.settings.pii_operator}"

    @classmethod
    def review_share(cls, columns: Mapping[str, Any]) -> float:
        """Personal data adds up to 1 (five findings or more)."""
        return min(1.0, columns["pii_count"] / 5) if columns["pii_count"] else 0.0

    def availability(self) -> Availability:
        return Availability(True)

    @cached_property
    def analyzer(self) -> Any:
        return build_analyzer(pii_config(self.settings).with_changes(n_process=1))

    @cached_property
    def redactor(self) -> Any:
        return build_redactor(self.settings, self.settings.pii_operator)

    def score(self, texts: Sequence[str]) -> list[PIIResult]:
        results = []
        for text, entities in zip(texts, self.analyzer.analyze_batch(list(texts)), strict=True):
            redaction = self.redactor(text, entities)
            scores = {(e.start, e.end): e.score for e in entities}
            items = [{"type": item["type"], "start": item["start"], "end": item["end"],
                      "score": round(float(scores.get((item["original_start"], item["original_end"]), 0.0)), 4)}
                     for item in redaction.items]
            mapping = [(item["original_start"], item["original_end"], item["start"], item["end"])
                       for item in redaction.items]
            results.append(PIIResult(redaction.text, items, mapping))
        return results
