"""The generation ledger: signed manifests, found again by exact text hash or, after edits, by MinHash LSH.

LSH here uses one MinHash value per band (128 bands of 1 row). The number of bands two signatures share,
divided by 128, *is* the MinHash estimate of their shingle Jaccard similarity, so one indexed query returns
candidates already scored. One-row bands are what an edited copy needs: replacing 20% of the words keeps
only about a third of the word 5-shingles (Jaccard about 0.2), which wider bands would miss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from generator.stamping import minhash, text_sha256
from provenance.store.models import DEFAULT_TENANT, Manifest, ManifestBand

EMPTY_MINHASH_VALUE = (1 << 53) - 1  # what an empty text hashes to: never a match
DEFAULT_MIN_SIMILARITY = 0.1


@dataclass(frozen=True)
class LedgerMatch:
    manifest_id: str
    similarity: float


def _bands(values: Sequence[int]) -> list[tuple[int, str]]:
    return [(band, str(value)) for band, value in enumerate(values) if int(value) != EMPTY_MINHASH_VALUE]


def record_manifest(session: Session, manifest: Mapping[str, Any], *, tenant: str = DEFAULT_TENANT) -> Manifest:
    """Write a signed manifest owned by ``tenant`` (idempotent on its id) and its LSH bands."""
    existing = session.get(Manifest, manifest["id"])
    if existing is not None:
        return existing
    values = list((manifest.get("minhash") or {}).get("values") or [])
    row = Manifest(id=manifest["id"], text_sha256=manifest["text_sha256"],
                   model_name=(manifest.get("model") or {}).get("name"),
                   watermark_key_id=(manifest.get("watermark") or {}).get("key_id"),
                   requester=manifest.get("requester"), body=dict(manifest), minhash=values, tenant=tenant)
    session.add(row)
    session.add_all(ManifestBand(manifest_id=row.id, band=band, bucket=bucket) for band, bucket in _bands(values))
    return row


def exact_match(session: Session, text: str) -> Manifest | None:
    """The newest manifest whose normalised text hash equals this text's."""
    digest = text_sha256(text)
    return session.scalars(select(Manifest).where(Manifest.text_sha256 == digest)
                           .order_by(Manifest.created_at.desc()).limit(1)).first()


def exact_matches(session: Session, digests: Sequence[str], *, tenant: str | None = None) -> dict[str, str]:
    """text_sha256 -> manifest id for the digests that are in the ledger (one query for a batch); with
    ``tenant``, only that tenant's manifests."""
    if not digests:
        return {}
    query = select(Manifest.text_sha256, Manifest.id).where(Manifest.text_sha256.in_(set(digests)))
    if tenant is not None:
        query = query.where(Manifest.tenant == tenant)
    return {digest: manifest_id for digest, manifest_id in session.execute(query)}


def near_duplicates(session: Session, text: str | None = None, *, signature: Sequence[int] | None = None,
                    min_similarity: float = DEFAULT_MIN_SIMILARITY, limit: int = 5,
                    tenant: str | None = None) -> list[LedgerMatch]:
    """Manifests (of ``tenant`` when given) whose MinHash signature shares at least ``min_similarity`` of its
    values with the text's."""
    values = list(signature) if signature is not None else minhash(text or "")
    bands = _bands(values)
    if not bands:
        return []
    shared = func.count(ManifestBand.id)
    query = select(ManifestBand.manifest_id, shared)
    if tenant is not None:
        query = query.join(Manifest, Manifest.id == ManifestBand.manifest_id).where(Manifest.tenant == tenant)
    rows = session.execute(
        query
        # An OR of (band AND bucket) pairs: SQLite and PostgreSQL answer it from the (band, bucket) index, where a
        # row-value IN list makes SQLite scan the whole table.
        .where(or_(*(and_(ManifestBand.band == band, ManifestBand.bucket == bucket) for band, bucket in bands)))
        .group_by(ManifestBand.manifest_id)
        .having(shared >= max(1, int(min_similarity * len(values) + 0.999)))
        .order_by(shared.desc()).limit(limit))
    return [LedgerMatch(manifest_id, count / len(values)) for manifest_id, count in rows]
