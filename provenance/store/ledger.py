"""The generation ledger: signed manifests, found again by exact text hash or, after edits, by MinHash LSH.

``record_generations`` is how `provenance generate`, the demo and the API's /v1/generate write it (each signed
manifest plus an audit row, in one transaction); the lookup that reads it is the provenance signal's
(``provenance.signals.provenance``), which runs the one query below (``shared_bands``).

LSH here uses one MinHash value per band (128 bands of 1 row). The number of bands two signatures share,
divided by 128, *is* the MinHash estimate of their shingle Jaccard similarity, so one indexed query returns
candidates already scored. One-row bands are what an edited copy needs: replacing 20% of the words keeps
only about a third of the word 5-shingles (Jaccard about 0.2), which wider bands would miss.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from generator.stamping import minhash, text_sha256
from provenance.settings import Settings
from provenance.store.audit import audit
from provenance.store.band_filter import keys_to_probe
from provenance.store.engine import session_scope
from provenance.store.models import DEFAULT_TENANT, Manifest, ManifestBand

EMPTY_MINHASH_VALUE = (1 << 53) - 1  # what an empty text hashes to: never a match
DEFAULT_MIN_SIMILARITY = 0.1


@dataclass(frozen=True)
class LedgerMatch:
    manifest_id: str
    similarity: float


BAND_SHIFT = 53  # MinHash values keep 53 bits: a band's key is ``band << 53 | value`` (at most 60 bits)


def band_key(band: int, value: int) -> int:
    """The one integer a (band, MinHash value) pair is stored and probed as (``manifest_bands.band_key``)."""
    return (int(band) << BAND_SHIFT) | int(value)


LEDGER_WRITE_LOCK = 0x70726F76656E  # PostgreSQL advisory lock: ledger writers commit one at a time


def record_manifest(session: Session, manifest: Mapping[str, Any], *, tenant: str = DEFAULT_TENANT) -> Manifest:
    """Write a signed manifest owned by ``tenant`` (idempotent on its id) and its LSH bands.

    On PostgreSQL the transaction first takes the ledger's advisory lock (held until it ends), so band rows get
    their ids and become visible in one order: the key filter (``band_filter``) reads new rows by id."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT pg_advisory_xact_lock({LEDGER_WRITE_LOCK})"))
    existing = session.get(Manifest, manifest["id"])
    if existing is not None:
        return existing
    values = list((manifest.get("minhash") or {}).get("values") or [])
    row = Manifest(id=manifest["id"], text_sha256=manifest["text_sha256"],
                   model_name=(manifest.get("model") or {}).get("name"),
                   watermark_key_id=(manifest.get("watermark") or {}).get("key_id"),
                   requester=manifest.get("requester"), body=dict(manifest), minhash=values, tenant=tenant)
    session.add(row)
    session.add_all(ManifestBand(manifest_id=row.id, band_key=key, tenant=tenant)
                    for key in _band_keys([[value] for value in values]))
    return row


def exact_match(session: Session, text: str) -> Manifest | None:
    """The newest manifest whose normalised text hash equals this text's."""
    digest = text_sha256(text)
    return session.scalars(select(Manifest).where(Manifest.text_sha256 == digest)
                           .order_by(Manifest.created_at.desc()).limit(1)).first()


def paramstyle_mark(connection: Connection) -> str | None:
    """The driver's positional placeholder (None for a named paramstyle): the hot-path queries are plain SQL."""
    return {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(connection.dialect.paramstyle)


@lru_cache(maxsize=64)
def _shared_bands_sql(mark: str, size: int, limit: int, by_tenant: bool = False) -> str:
    """``band_key IN (?, ...) [AND tenant = ?]``: one search of the (band_key, tenant) index per key, on SQLite
    (the IN list becomes a sorted probe list) and on any other driver. With ``by_tenant`` each probe uses both
    columns, so other tenants' rows are never read and no join runs before the LIMIT."""
    tenant = f" AND b.tenant = {mark}" if by_tenant else ""
    return (f"SELECT b.manifest_id, COUNT(*) FROM manifest_bands b "
            f"WHERE b.band_key IN ({', '.join([mark] * size)}){tenant} GROUP BY b.manifest_id "
            f"HAVING COUNT(*) >= {mark} ORDER BY COUNT(*) DESC, b.manifest_id LIMIT {int(limit)}")


@lru_cache(maxsize=16)
def _shared_bands_array_sql(limit: int, by_tenant: bool) -> str:
    """PostgreSQL's form of the same query: the keys as one array literal (a string such as ``{12,34}``), so the
    statement is the same for every lookup and is parsed once, where a parameter per key (2,049 for a
    containment query) was parsed and planned afresh on every lookup. A string, not a Python list, because
    psycopg adapts a list element by element in Python. ``ANY`` over the array is one index scan that looks the
    sorted keys up in one pass, and matches a row once however often a key is listed, as ``IN`` does."""
    tenant = " AND b.tenant = %s" if by_tenant else ""
    return (f"SELECT b.manifest_id, COUNT(*) FROM manifest_bands b WHERE b.band_key = ANY(%s::bigint[]){tenant} "
            f"GROUP BY b.manifest_id HAVING COUNT(*) >= %s ORDER BY COUNT(*) DESC, b.manifest_id "
            f"LIMIT {int(limit)}")


def _band_key_array(buckets: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    """The band keys (uint64) of every non-empty value (per band, the values that count as a hit). A 2-D
    array (what the lookup passes: 128 x 16 values for containment) is keyed in one vectorised pass:
    converting 2,048 numpy scalars one by one was the request path's largest cost after SQLite itself
    (profile of POST /v1/verify)."""
    if isinstance(buckets, np.ndarray) and buckets.ndim == 2:
        values = buckets.astype(np.uint64, copy=False)
        bands = np.arange(values.shape[0], dtype=np.uint64)[:, None] << np.uint64(BAND_SHIFT)
        return (bands | values)[values != np.uint64(EMPTY_MINHASH_VALUE)]
    return np.asarray([band_key(band, value) for band, values in enumerate(buckets) for value in values
                       if int(value) != EMPTY_MINHASH_VALUE], dtype=np.uint64)


def _band_keys(buckets: Sequence[Sequence[int]] | np.ndarray) -> list[int]:
    """``_band_key_array`` as Python ints (what the drivers bind)."""
    return _band_key_array(buckets).tolist()


def shared_bands(connection: Connection, buckets: Sequence[Sequence[int]] | np.ndarray, needed: int,
                 limit: int, tenant: str | None = None, key_filter: str = "off") -> list[tuple[str, int]]:
    """The one ledger query: manifests (of ``tenant`` when given) sharing at least ``needed`` bands with
    ``buckets`` (per band, the values that count as a hit: one for a near-duplicate signature, a document's
    smallest few for containment). A manifest has one value per band, so its count is the number of bands
    it shares. ``key_filter`` (auto | on | off, ``Settings.ledger_key_filter``) leaves out the keys no band
    row has, by the process's Bloom filter (``band_filter``): the same answer from fewer index probes."""
    keys = keys_to_probe(connection, _band_key_array(buckets), key_filter).tolist()
    if not keys:
        return []
    lead = [tenant] if tenant is not None else []
    mark = paramstyle_mark(connection)
    if connection.dialect.name == "postgresql" and mark == "%s":
        literal = "{" + ",".join(map(str, keys)) + "}"  # digits only
        rows = connection.exec_driver_sql(_shared_bands_array_sql(limit, tenant is not None),
                                          (literal, *lead, max(1, needed))).all()
        return [(manifest_id, int(count)) for manifest_id, count in rows]
    params = [*keys, *lead, max(1, needed)]
    if mark is not None:  # plain driver SQL: the API's hot path (building expressions costs more than the query)
        rows = connection.exec_driver_sql(_shared_bands_sql(mark, len(keys), limit, tenant is not None),
                                          tuple(params)).all()
    else:  # an unusual driver: the same statement with named parameters
        names = [f"p{i}" for i in range(len(params))]
        sql = _shared_bands_sql("\x00", len(keys), limit, tenant is not None)
        for name in names:
            sql = sql.replace("\x00", f":{name}", 1)
        rows = connection.execute(text(sql), dict(zip(names, params, strict=True))).all()
    return [(manifest_id, int(count)) for manifest_id, count in rows]


def near_duplicate_ids(connection: Connection, signature: Sequence[int], *,
                       min_similarity: float = DEFAULT_MIN_SIMILARITY, limit: int = 5,
                       tenant: str | None = None, key_filter: str = "off") -> list[tuple[str, float]]:
    """(manifest id, estimated Jaccard) of manifests sharing at least ``min_similarity`` of the signature."""
    needed = int(min_similarity * len(signature) + 0.999)
    rows = shared_bands(connection, np.asarray(signature, dtype=np.uint64)[:, None], needed, limit, tenant,
                        key_filter)
    return [(manifest_id, count / len(signature)) for manifest_id, count in rows]


def near_duplicates(session: Session, text: str | None = None, *, signature: Sequence[int] | None = None,
                    min_similarity: float = DEFAULT_MIN_SIMILARITY, limit: int = 5,
                    tenant: str | None = None) -> list[LedgerMatch]:
    """Manifests (of ``tenant`` when given) whose MinHash signature shares at least ``min_similarity`` of its
    values with the text's."""
    values = list(signature) if signature is not None else minhash(text or "")
    return [LedgerMatch(manifest_id, similarity) for manifest_id, similarity in
            near_duplicate_ids(session.connection(), values, min_similarity=min_similarity, limit=limit,
                               tenant=tenant)]


def record_generations(settings: Settings, manifests: Iterable[Mapping[str, Any]], *, actor: str,
                       toxicity_events: Iterable[Mapping[str, Any]] = ()) -> int:
    """Store manifests (idempotent per manifest id) and the toxicity screen's withheld/regenerated events
    (scores and hashes only, never the text) in one transaction; returns how many manifests were given."""
    manifests = list(manifests)
    events = list(toxicity_events)
    if not manifests and not events:
        return 0
    from provenance.home import remember_model
    from provenance.store.schema import ensure_schema

    url = settings.resolved_database_url
    settings.ensure_home()
    remember_model(settings.home)
    ensure_schema(url)
    with session_scope(url) as session:
        for manifest in manifests:
            record_manifest(session, manifest)
            audit(session, actor=actor, action="generate", subject_type="manifest", subject_id=manifest["id"],
                  details={"text_sha256": manifest.get("text_sha256"), "tokens": manifest.get("tokens"),
                           "model": (manifest.get("model") or {}).get("name"),
                           "watermark_key_id": (manifest.get("watermark") or {}).get("key_id")})
        for event in events:
            details = {key: value for key, value in event.items() if key not in ("text", "prompt")}
            audit(session, actor=actor, action=f"generation_{event.get('action', 'withheld')}",
                  subject_type="manifest" if event.get("manifest_id") else None,
                  subject_id=event.get("manifest_id"), details=details)
    return len(manifests)
