"""Redaction operators on top of presidio-anonymizer, and restoring encrypted redactions.

- ``replace``: typed placeholders numbered per document, consistent within it: the first distinct person is
  ``<PERSON_1>``, the second ``<PERSON_2>``, and every repeat of the first is ``<PERSON_1>`` again.
- ``mask``: every character of the value becomes ``*`` (Presidio's ``mask`` operator; length is kept).
- ``hash``: ``<PERSON_3fa2c1d0>``, the first 8 bytes of HMAC-SHA256(secret, type + NUL + value) in hex. The same
  value and secret give the same pseudonym in every document (joins across a dump still work); without the
  secret the value cannot be recovered or confirmed by hashing guesses.
- ``encrypt``: ``<ENC:PERSON:base64>``, where base64 is Presidio's AES-CBC ``encrypt`` output (random IV) for
  the value. The marker is what ``restore`` looks for, so restored text needs nothing besides the redacted text
  and the key; ``restore`` decrypts with Presidio's ``decrypt`` operator.
Values are compared after Unicode NFC normalisation and trimming, never case-folded.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from detect.pii.errors import PIIError
from detect.pii.resolve import PIIEntity

Operator = Literal["replace", "mask", "hash", "encrypt"]
OPERATORS: tuple[str, ...] = ("replace", "mask", "hash", "encrypt")
ENCRYPTED_MARKER = re.compile(r"<ENC:([A-Z][A-Z0-9_]*):([A-Za-z0-9+/_-]+={0,2})>")
AES_KEY_SIZES = (16, 24, 32)


@dataclass
class RedactionResult:
    """Redacted text, and one item per replaced entity (``start``/``end`` index the *redacted* text)."""

    text: str
    items: list[dict[str, Any]] = field(default_factory=list)


def _normalise(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip())


def hmac_pseudonym(entity_type: str, value: str, secret: bytes) -> str:
    digest = hmac.new(secret, f"{entity_type}\x00{_normalise(value)}".encode(), hashlib.sha256).hexdigest()
    return f"<{entity_type}_{digest[:8]}>"


def _check_aes_key(key: bytes | None) -> bytes:
    if key is None or len(key) not in AES_KEY_SIZES:
        raise PIIError("encryption needs an AES key of 16, 24 or 32 bytes",
                       hint="set PROVENANCE_PII_ENCRYPTION_KEY or let the key store create one")
    return key


def _replacer(operator: str, entities: Sequence[PIIEntity], text: str, secret: bytes | None,
              key: bytes | None) -> Callable[[PIIEntity, str], str]:
    if operator == "replace":
        numbers: dict[tuple[str, str], int] = {}
        per_type: dict[str, int] = {}
        for entity in sorted(entities, key=lambda e: e.start):
            value_key = (entity.type, _normalise(text[entity.start:entity.end]))
            if value_key not in numbers:
                per_type[entity.type] = per_type.get(entity.type, 0) + 1
                numbers[value_key] = per_type[entity.type]
        return lambda entity, value: f"<{entity.type}_{numbers[(entity.type, _normalise(value))]}>"
    if operator == "hash":
        if not secret:
            raise PIIError("hash redaction needs a secret", hint="set PROVENANCE_PII_HMAC_SECRET or use the key store")
        return lambda entity, value: hmac_pseudonym(entity.type, value, secret)
    if operator == "encrypt":
        from presidio_anonymizer.operators import Encrypt

        aes_key = _check_aes_key(key)
        encrypt = Encrypt()
        return lambda entity, value: f"<ENC:{entity.type}:{encrypt.operate(value, {'key': aes_key})}>"
    raise PIIError(f"unknown operator {operator!r}", hint="use one of: " + ", ".join(OPERATORS))


def redact(text: str, entities: Sequence[PIIEntity], operator: str = "replace", *, secret: bytes | None = None,
           key: bytes | None = None, mask_char: str = "*") -> RedactionResult:
    """Replace each entity in ``text`` with ``operator``; ``entities`` must not overlap (``PIIAnalyzer`` output)."""
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    if operator not in OPERATORS:
        raise PIIError(f"unknown operator {operator!r}", hint="use one of: " + ", ".join(OPERATORS))
    if not entities:
        return RedactionResult(text, [])
    if operator == "mask":
        operators = {e.type: OperatorConfig("mask", {"masking_char": mask_char, "chars_to_mask": 10**9,
                                                     "from_end": False}) for e in entities}
    else:
        replace = _replacer(operator, entities, text, secret, key)
        by_type = {e.type: e for e in entities}
        operators = {kind: OperatorConfig("custom", {"lambda": _bind(replace, entity)})
                     for kind, entity in by_type.items()}
    results = [RecognizerResult(e.type, e.start, e.end, e.score) for e in entities]
    engine_result = AnonymizerEngine().anonymize(text, results, operators, merge_entities_with_spaces=False)
    originals = sorted(entities, key=lambda e: e.start)
    items = sorted(engine_result.items, key=lambda item: item.start)
    return RedactionResult(engine_result.text, [
        {"type": item.entity_type, "start": item.start, "end": item.end, "original_start": original.start,
         "original_end": original.end, "operator": operator}
        for item, original in zip(items, originals, strict=True)])


def _bind(replace: Callable[[PIIEntity, str], str], entity: PIIEntity) -> Callable[[str], str]:
    """Presidio's custom operator passes only the value; the entity type is fixed per operator config."""
    return lambda value: replace(entity, value)


def restore(text: str, key: bytes) -> str:
    """Decrypt every ``<ENC:TYPE:...>`` marker in ``text`` (output of ``redact(..., "encrypt")``)."""
    from presidio_anonymizer.operators import Decrypt

    aes_key = _check_aes_key(key)
    decrypt = Decrypt()

    def plain(match: re.Match[str]) -> str:
        try:
            return decrypt.operate(match.group(2), {"key": aes_key})
        except (ValueError, UnicodeDecodeError) as exc:
            raise PIIError(f"cannot decrypt a {match.group(1)} value at offset {match.start()}: "
                           f"{exc.__class__.__name__}", hint="use the key the text was encrypted with") from None

    return ENCRYPTED_MARKER.sub(plain, text)
