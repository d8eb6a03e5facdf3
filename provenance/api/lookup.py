"""Provenance lookup in the generation ledger: the exact manifest of a text (by the hash of its normalised
form, with its signature checked against this installation's public key) and near-duplicate manifests (MinHash
LSH), so an edited copy of a generation still finds where it came from.

``manifest_id``/``signature_valid`` describe the exact match only (None when the text is not in the ledger);
``near_duplicates`` lists up to five manifests with their estimated Jaccard similarity of word 5-shingles and
whether each one's signature is intact (the text was edited, so only the signature, not the text hash, can
still be checked).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from generator.stamping import (
    MINHASH_PERMUTATIONS,
    _minhash_seeds,
    _mix64,
    shingles,
    text_sha256,
    verify_manifest,
)
from provenance.store.ledger import DEFAULT_MIN_SIMILARITY, EMPTY_MINHASH_VALUE, exact_matches, near_duplicates
from provenance.store.models import DEFAULT_TENANT, Manifest

NEAR_DUPLICATE_LIMIT = 5


def signature_status(body: Mapping[str, Any], public_key: Ed25519PublicKey, text: str | None) -> tuple[bool, str]:
    return verify_manifest(body, public_key, text)


_SEEDS = _minhash_seeds(MINHASH_PERMUTATIONS)  # generator.stamping derives them on every call (~0.1-1 ms)
_EMPTY_SIGNATURE = [EMPTY_MINHASH_VALUE] * MINHASH_PERMUTATIONS


def fast_minhash(text: str) -> list[int]:
    """``generator.stamping.minhash`` with its fixed seeds computed once and no sorting (the minimum does not
    need it): the same values (a test checks), for the API's hot path."""
    items = shingles(text)
    if not items:
        return list(_EMPTY_SIGNATURE)
    hashed = np.fromiter((int.from_bytes(hashlib.blake2b(item.encode(), digest_size=8).digest(), "little")
                          for item in items), dtype=np.uint64, count=len(items))
    values = np.full(MINHASH_PERMUTATIONS, EMPTY_MINHASH_VALUE, dtype=np.uint64)
    for start in range(0, hashed.size, 4096):  # bounded memory for very long texts
        mixed = _mix64(hashed[None, start:start + 4096] ^ _SEEDS[:, None]) >> np.uint64(11)
        values = np.minimum(values, mixed.min(axis=1))
    return values.tolist()


def _placeholder(engine: Engine) -> str | None:
    return {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(engine.dialect.paramstyle)


@lru_cache(maxsize=8)
def _near_sql(mark: str, bands: int) -> str:
    """``(band = ? AND bucket = ?) OR ...``: both SQLite (multi-index OR) and PostgreSQL (bitmap OR) answer it
    from the (band, bucket) index, where a row-value IN list makes SQLite scan the whole table."""
    condition = " OR ".join([f"(b.band = {mark} AND b.bucket = {mark})"] * bands)
    # The tenant is joined in before the LIMIT, so other tenants' manifests can never crowd out one's own.
    return (f"SELECT b.manifest_id, COUNT(*) FROM manifest_bands b JOIN manifests m ON m.id = b.manifest_id "
            f"WHERE m.tenant = {mark} AND ({condition}) GROUP BY b.manifest_id "
            f"HAVING COUNT(*) >= {mark} ORDER BY COUNT(*) DESC, b.manifest_id LIMIT {NEAR_DUPLICATE_LIMIT}")


def _near(connection: Connection, mark: str, signature: Sequence[int], tenant: str) -> list[tuple[str, float]]:
    bands = [(band, str(value)) for band, value in enumerate(signature) if int(value) != EMPTY_MINHASH_VALUE]
    if not bands:
        return []
    needed = max(1, int(DEFAULT_MIN_SIMILARITY * len(signature) + 0.999))
    params = (tenant,) + tuple(item for pair in bands for item in pair) + (needed,)
    rows = connection.exec_driver_sql(_near_sql(mark, len(bands)), params).all()
    return [(manifest_id, count / len(signature)) for manifest_id, count in rows]


def _bodies(connection: Connection, mark: str, ids: set[str], tenant: str) -> dict[str, dict[str, Any]]:
    """The bodies of the wanted manifests that belong to ``tenant`` (others are dropped as if not found)."""
    if not ids:
        return {}
    marks = ", ".join([mark] * len(ids))
    rows = connection.exec_driver_sql(f"SELECT id, body FROM manifests WHERE id IN ({marks}) AND tenant = {mark}",
                                      (*ids, tenant)).all()
    return {manifest_id: json.loads(body) if isinstance(body, str | bytes) else body for manifest_id, body in rows}


def lookup_many(engine: Engine, public_key: Ed25519PublicKey, texts: Sequence[str], *,
                tenant: str = DEFAULT_TENANT) -> list[dict[str, Any]]:
    """One provenance record per text, from ``tenant``'s manifests only: one connection, one query for the
    exact matches, one per text for near duplicates, one for the manifests found. Plain driver SQL: this is the
    API's hot path, and building ORM sessions and 256-parameter expressions cost far more than the queries
    themselves."""
    mark = _placeholder(engine)
    digests = [text_sha256(text) for text in texts]
    signatures = [fast_minhash(text) for text in texts]
    if mark is None:  # an unusual driver: the store's own (slower, portable) queries
        with Session(engine) as session:
            exact = exact_matches(session, digests, tenant=tenant)
            near = [[(m.manifest_id, m.similarity) for m in near_duplicates(session, signature=signature,
                                                                             limit=NEAR_DUPLICATE_LIMIT,
                                                                             tenant=tenant)]
                    for signature in signatures]
            wanted = set(exact.values()) | {manifest_id for matches in near for manifest_id, _ in matches}
            rows = session.execute(select(Manifest.id, Manifest.body).where(Manifest.id.in_(wanted))) if wanted else []
            bodies = {manifest_id: body for manifest_id, body in rows}
    else:
        with engine.connect() as connection:
            marks = ", ".join([mark] * len(set(digests)))
            exact = dict(connection.exec_driver_sql(
                f"SELECT text_sha256, id FROM manifests WHERE text_sha256 IN ({marks}) AND tenant = {mark}",
                (*set(digests), tenant)).all())
            near = [_near(connection, mark, signature, tenant) for signature in signatures]
            wanted = set(exact.values()) | {manifest_id for matches in near for manifest_id, _ in matches}
            bodies = _bodies(connection, mark, wanted, tenant)
    checked: dict[str, tuple[bool, str]] = {}  # one signature check per manifest per call

    def check(manifest_id: str) -> tuple[bool, str]:
        if manifest_id not in checked:
            checked[manifest_id] = signature_status(bodies[manifest_id], public_key, None)
        return checked[manifest_id]

    records = []
    for digest, matches in zip(digests, near, strict=True):
        manifest_id = exact.get(digest)
        record: dict[str, Any] = {"text_sha256": digest, "manifest_id": None, "match": None,
                                  "signature_valid": None, "signature_reason": None, "manifest": None}
        if manifest_id is not None and manifest_id in bodies:
            # The text hash already matched (that is how the row was found): only the signature needs checking.
            valid, reason = check(manifest_id)
            record.update(manifest_id=manifest_id, match="exact", signature_valid=valid,
                          signature_reason="signature valid and text matches" if valid else reason,
                          manifest=bodies[manifest_id])
        duplicates = []
        for match_id, similarity in matches:
            valid = check(match_id)[0] if match_id in bodies else False
            duplicates.append({"manifest_id": match_id, "similarity": round(similarity, 4), "signature_valid": valid})
        record["near_duplicates"] = duplicates
        if record["match"] is None and duplicates:
            record["match"] = "near_duplicate"
        records.append(record)
    return records
