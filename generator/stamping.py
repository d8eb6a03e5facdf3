"""Provenance manifests: a signed record of every generation that can be checked offline.

A manifest says which model (name and weights SHA-256), which decoding parameters and which watermark key
produced a text, and pins the text by the SHA-256 of its normalised form plus a MinHash fingerprint of its
word shingles (so an edited copy can still be matched to its manifest later). The body is serialised as
canonical JSON (sorted keys, no whitespace, UTF-8) and signed with Ed25519; verification needs only the
public key. Key storage is the application's job: this module receives keys, it never reads files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from watermark import normalize_text

MANIFEST_SCHEMA = "gpt2-provenance/manifest/v1"
SIGNATURE_ALGORITHM = "Ed25519"
MINHASH_PERMUTATIONS = 128
SHINGLE_WORDS = 5
_EMPTY_MINHASH = (1 << 53) - 1
_WORD = re.compile(r"\w+", re.UNICODE)


def canonical_json(obj: Any) -> bytes:
    """Deterministic bytes for signing: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def sha256_hex(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def text_sha256(text: str) -> str:
    """Hash of the normalised text, so invisible edits (zero-width characters, homoglyphs) do not change it."""
    return sha256_hex(normalize_text(text))


def _minhash_seeds(num_perm: int) -> np.ndarray:
    """Fixed public seeds (one per hash function), so fingerprints from any process or machine compare."""
    return np.random.default_rng(0x5EED_F1A6).integers(0, 2**63, size=num_perm, dtype=np.uint64)


def _mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a full-avalanche 64-bit mix (uint64 arithmetic wraps, as intended)."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    words = [w.lower() for w in _WORD.findall(normalize_text(text))]
    if len(words) < size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + size]) for i in range(len(words) - size + 1)}


def minhash(text: str, num_perm: int = MINHASH_PERMUTATIONS, block: int = 4096) -> list[int]:
    """MinHash signature of the text's word 5-shingles: per seed, the minimum of mix64(shingle ^ seed).

    Values keep the top 53 bits so they survive JSON consumers that read numbers as doubles. Empty text gives
    all values 2^53 - 1.
    """
    seeds = _minhash_seeds(num_perm)
    values = np.full(num_perm, _EMPTY_MINHASH, dtype=np.uint64)
    items = sorted(shingles(text))
    hashed = np.fromiter((int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little")
                          for s in items), dtype=np.uint64, count=len(items))
    for start in range(0, hashed.size, block):  # bounded memory for very long texts
        chunk = hashed[start:start + block]
        mixed = _mix64(chunk[None, :] ^ seeds[:, None]) >> np.uint64(11)
        values = np.minimum(values, mixed.min(axis=1))
    return [int(v) for v in values]


def estimated_jaccard(first: list[int], second: list[int]) -> float:
    if len(first) != len(second) or not first:
        raise ValueError("MinHash signatures must have the same, non-zero length")
    return float(np.mean(np.asarray(first, dtype=np.uint64) == np.asarray(second, dtype=np.uint64)))


def public_key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)[:16]


def build_manifest(*, text: str, prompt: str, model: Mapping[str, Any], decoding: Mapping[str, Any],
                   watermark: Mapping[str, Any] | None, requester: str | None = None,
                   tokens: int | None = None) -> dict[str, Any]:
    """The unsigned manifest body for one generation."""
    return {
        "schema": MANIFEST_SCHEMA,
        "id": uuid.uuid4().hex,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "model": dict(model),
        "decoding": dict(decoding),
        "watermark": dict(watermark) if watermark is not None else None,
        "prompt_sha256": sha256_hex(prompt),
        "text_sha256": text_sha256(text),
        "tokens": tokens,
        "minhash": {"num_perm": MINHASH_PERMUTATIONS, "shingle_words": SHINGLE_WORDS, "values": minhash(text)},
        "requester": requester,
    }


def sign_manifest(body: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """Body plus a ``signature`` block over the canonical JSON of everything else."""
    unsigned = {key: value for key, value in body.items() if key != "signature"}
    signature = private_key.sign(canonical_json(unsigned))
    return {**unsigned, "signature": {"algorithm": SIGNATURE_ALGORITHM,
                                      "public_key_id": public_key_id(private_key.public_key()),
                                      "value": base64.b64encode(signature).decode("ascii")}}


def verify_manifest(manifest: Mapping[str, Any], public_key: Ed25519PublicKey,
                    text: str | None = None) -> tuple[bool, str]:
    """Check the signature (and, given ``text``, that it is the text the manifest pins). Returns (ok, reason)."""
    block = manifest.get("signature")
    if not isinstance(block, Mapping) or block.get("algorithm") != SIGNATURE_ALGORITHM:
        return False, "manifest has no Ed25519 signature block"
    if block.get("public_key_id") != public_key_id(public_key):
        return False, f"signed by key {block.get('public_key_id')}, not by {public_key_id(public_key)}"
    try:
        signature = base64.b64decode(str(block.get("value", "")), validate=True)
        public_key.verify(signature, canonical_json({k: v for k, v in manifest.items() if k != "signature"}))
    except (InvalidSignature, ValueError):
        return False, "signature does not match the manifest contents (tampered or wrong key)"
    if text is not None and text_sha256(text) != manifest.get("text_sha256"):
        return False, "signature valid, but the text does not match the manifest's text_sha256"
    return True, "signature valid" + (" and text matches" if text is not None else "")
