"""Provenance lookup in the generation ledger for the API: exact, near-duplicate and containment matches.

The lookup itself is the provenance signal's (``provenance.signals.provenance``), shared with the scanning
pipeline and the dashboard; this module keeps the API's names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from generator.stamping import verify_manifest
from provenance.signals.provenance import NEAR_DUPLICATE_LIMIT, fast_minhash, lookup_many

__all__ = ["NEAR_DUPLICATE_LIMIT", "fast_minhash", "lookup_many", "signature_status"]


def signature_status(body: Mapping[str, Any], public_key: Ed25519PublicKey, text: str | None) -> tuple[bool, str]:
    return verify_manifest(body, public_key, text)
