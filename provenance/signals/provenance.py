"""Provenance in the ledger as a signal: the one lookup the scan pipeline, the API and the dashboard share.

Per text: the *exact* manifest (hash of the normalised text), *near duplicates* (MinHash LSH: an edited copy),
and *containment* in both directions: a generation inside a longer document (a generation published with its
prompt, or quoted in an article) and a document that is an excerpt of a longer generation.

Containment of a generation G in a document D is estimated without G's text: for each of the 128 MinHash
permutations, G's minimum is the hash of one uniformly chosen shingle of G, and it appears among D's shingle
hashes for that permutation exactly when that shingle is in D; the fraction of permutations where it does
estimates |G ∩ D| / |G|. Candidates come from one indexed query over D's smallest hashes per permutation
(G's minimum is among them when G is a sizeable part of D). D inside G follows from the Jaccard estimate and
G's size estimated from its own minima.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine

from generator.stamping import MINHASH_PERMUTATIONS, _minhash_seeds, _mix64, shingles, text_sha256, verify_manifest
from provenance.settings import Settings
from provenance.signals.base import Availability, BaseSignal, SignalResult
from provenance.store.ledger import (
    DEFAULT_MIN_SIMILARITY,
    EMPTY_MINHASH_VALUE,
    near_duplicate_ids,
    shared_bands,
)

NEAR_DUPLICATE_LIMIT = 5
CONTAINMENT_QUERY_BOTTOM = 16  # per permutation, the document's smallest hashes sent to the ledger query
CONTAINMENT_BOTTOM = 64  # ... and kept for the estimate (a generation >= ~10% of the document stays in range)
CONTAINMENT_MIN_SHARED = 16  # permutations that must agree before a manifest is a containment candidate
MATCH_THRESHOLD = 0.5  # near-duplicate Jaccard or containment from which a match names its manifest
_SEEDS = _minhash_seeds(MINHASH_PERMUTATIONS)
_EMPTY = np.uint64(EMPTY_MINHASH_VALUE)
_SCALE = float(1 << 53)


@dataclass
class TextHashes:
    """A text's digest, its MinHash signature, and per permutation its smallest shingle hashes (sorted)."""

    digest: str
    signature: list[int]
    bottom: np.ndarray  # (permutations, <= CONTAINMENT_BOTTOM), uint64; padded with the empty value
    shingle_count: int


def text_hashes(text: str) -> TextHashes:
    """``generator.stamping.minhash`` (the same values: a test checks) plus the bottom-k per permutation."""
    items = sorted(shingles(text))
    digest = text_sha256(text)
    if not items:
        empty = np.full((MINHASH_PERMUTATIONS, 1), _EMPTY, dtype=np.uint64)
        return TextHashes(digest, [EMPTY_MINHASH_VALUE] * MINHASH_PERMUTATIONS, empty, 0)
    hashed = np.fromiter((int.from_bytes(hashlib.blake2b(item.encode(), digest_size=8).digest(), "little")
                          for item in items), dtype=np.uint64, count=len(items))
    keep = min(CONTAINMENT_BOTTOM, hashed.size)
    bottom = np.full((MINHASH_PERMUTATIONS, 0), _EMPTY, dtype=np.uint64)
    for start in range(0, hashed.size, 4096):  # bounded memory for very long texts
        mixed = _mix64(hashed[None, start:start + 4096] ^ _SEEDS[:, None]) >> np.uint64(11)
        merged = np.concatenate([bottom, mixed], axis=1)
        part = min(keep, merged.shape[1])
        bottom = np.partition(merged, part - 1, axis=1)[:, :part] if merged.shape[1] > part else merged
    bottom.sort(axis=1)
    return TextHashes(digest, bottom[:, 0].tolist(), bottom, len(items))


def fast_minhash(text: str) -> list[int]:
    """The MinHash signature of ``text`` (word 5-shingles), as ``generator.stamping.minhash``."""
    return text_hashes(text).signature


def _manifest_values(body: dict[str, Any]) -> np.ndarray | None:
    values = ((body or {}).get("minhash") or {}).get("values") or []
    if len(values) != MINHASH_PERMUTATIONS:
        return None
    return np.asarray([int(v) for v in values], dtype=np.uint64)


def containment(hashes: TextHashes, values: np.ndarray) -> tuple[float, float, float]:
    """(Jaccard, generation-in-text, text-in-generation) estimates for one manifest's MinHash values."""
    signature = np.asarray(hashes.signature, dtype=np.uint64)
    valid = values != _EMPTY
    if not valid.any() or hashes.shingle_count == 0:
        return 0.0, 0.0, 0.0
    jaccard = float(np.mean(signature == values))
    in_text = float(np.mean([value in row for value, row, ok in zip(values, hashes.bottom, valid, strict=True)
                             if ok]))
    generation_size = max(1.0, MINHASH_PERMUTATIONS / max(1e-12, float(np.sum(values[valid] / _SCALE))) - 1.0)
    text_size = float(hashes.shingle_count)
    text_in = min(1.0, jaccard * (text_size + generation_size) / ((1.0 + jaccard) * text_size)) if jaccard else 0.0
    return jaccard, in_text, text_in


def _manifest_rows(connection: Connection, column: str, values: Sequence[str], tenant: str | None,
                   selected: str) -> list[tuple[Any, Any]]:
    """``SELECT {selected} FROM manifests WHERE {column} IN (...)``, rows of ``tenant`` only when given, as plain
    driver SQL: on the API's hot path building and compiling the equivalent SQLAlchemy expression cost more than
    the query. The tenant is compared here, not in SQL: given ``AND tenant = ?`` and no statistics, SQLite
    searched the tenant index (every manifest of the tenant: 40 ms at 10^5 manifests) instead of the unique
    id / text-hash index (a handful of rows)."""
    from provenance.store.ledger import paramstyle_mark

    mark = paramstyle_mark(connection)
    if mark is None:  # an unusual driver: the expression language
        from sqlalchemy import column as sql_column
        from sqlalchemy import select, table

        manifests = table("manifests", sql_column("id"), sql_column("text_sha256"), sql_column("body"),
                          sql_column("tenant"))
        query = select(*[manifests.c[name.strip()] for name in selected.split(",")], manifests.c.tenant).where(
            manifests.c[column].in_(list(values)))
        rows = [tuple(row) for row in connection.execute(query)]
    else:
        sql = f"SELECT {selected}, tenant FROM manifests WHERE {column} IN ({', '.join([mark] * len(values))})"
        rows = [tuple(row) for row in connection.exec_driver_sql(sql, tuple(values)).all()]
    return [row[:-1] for row in rows if tenant is None or row[-1] == tenant]


def _bodies(connection: Connection, ids: set[str], tenant: str | None) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = _manifest_rows(connection, "id", sorted(ids), tenant, "id, body")
    return {manifest_id: json.loads(body) if isinstance(body, str | bytes) else body for manifest_id, body in rows}


def _exact(connection: Connection, digests: Sequence[str], tenant: str | None) -> dict[str, str]:
    if not digests:
        return {}
    return dict(_manifest_rows(connection, "text_sha256", sorted(set(digests)), tenant, "text_sha256, id"))


def lookup_many(source: Engine | Connection, public_key: Any, texts: Sequence[str], *,
                tenant: str | None = None, key_filter: str = "off") -> list[dict[str, Any]]:
    """One provenance record per text (the API's ``provenance`` object), on one connection.

    ``manifest_id``/``signature_valid`` describe the exact match only; ``near_duplicates`` lists up to five
    manifests with their estimated Jaccard similarity; ``containment`` lists manifests contained in the text
    or containing it; ``match`` is exact | near_duplicate | containment | None and ``best_match`` names the
    manifest the text is attributed to (``manifest_id``, ``kind``, ``similarity``), or None. Without a public
    key, signatures are not checked (``signature_valid`` None). With ``tenant`` (the API: a key's tenant) only
    that tenant's manifests are searched; the scan pipeline searches the whole ledger, because a document's
    verdict is stored once whichever tenant scanned it (the API withholds other tenants' matches on read).
    ``key_filter`` is ``Settings.ledger_key_filter`` (the signal passes it): same answers, fewer probes."""
    if isinstance(source, Engine):
        with source.connect() as connection:
            return lookup_many(connection, public_key, texts, tenant=tenant, key_filter=key_filter)
    return lookup_hashed(source, public_key, [text_hashes(text) for text in texts], tenant=tenant,
                         key_filter=key_filter)


def lookup_hashed(connection: Connection, public_key: Any, hashed: Sequence[TextHashes], *,
                  tenant: str | None = None, key_filter: str = "off") -> list[dict[str, Any]]:
    """``lookup_many`` for texts already hashed: the ledger's part of the lookup alone (what
    ``bench/ledger_scale.py`` times with synthetic signatures at 10^5 and 10^6 manifests)."""
    exact = _exact(connection, [h.digest for h in hashed], tenant)
    near = [near_duplicate_ids(connection, h.signature, min_similarity=DEFAULT_MIN_SIMILARITY,
                               limit=NEAR_DUPLICATE_LIMIT, tenant=tenant, key_filter=key_filter) for h in hashed]
    contained = [shared_bands(connection, h.bottom[:, :CONTAINMENT_QUERY_BOTTOM], CONTAINMENT_MIN_SHARED,
                              NEAR_DUPLICATE_LIMIT, tenant, key_filter) for h in hashed]
    wanted = (set(exact.values()) | {m for matches in near for m, _ in matches}
              | {m for matches in contained for m, _ in matches})
    bodies = _bodies(connection, wanted, tenant)
    checked: dict[str, tuple[bool | None, str | None]] = {}

    def check(manifest_id: str) -> tuple[bool | None, str | None]:
        if manifest_id not in checked:
            checked[manifest_id] = ((None, "no public key to check the signature with") if public_key is None
                                    else verify_manifest(bodies[manifest_id], public_key, None))
        return checked[manifest_id]

    records = []
    for h, near_matches, contained_matches in zip(hashed, near, contained, strict=True):
        manifest_id = exact.get(h.digest)
        record: dict[str, Any] = {"text_sha256": h.digest, "manifest_id": None, "match": None,
                                  "signature_valid": None, "signature_reason": None, "manifest": None}
        best: dict[str, Any] | None = None
        if manifest_id is not None and manifest_id in bodies:
            valid, reason = check(manifest_id)  # the hash matched (that is how the row was found)
            record.update(manifest_id=manifest_id, match="exact", signature_valid=valid,
                          signature_reason="signature valid and text matches" if valid else reason,
                          manifest=bodies[manifest_id])
            best = {"manifest_id": manifest_id, "kind": "exact", "similarity": 1.0}
        record["near_duplicates"] = [
            {"manifest_id": m, "similarity": round(similarity, 4),
             "signature_valid": bool(check(m)[0]) if m in bodies else False} for m, similarity in near_matches]
        found = []
        for candidate in dict.fromkeys([m for m, _ in near_matches] + [m for m, _ in contained_matches]):
            values = _manifest_values(bodies.get(candidate, {}))
            if values is None or candidate == manifest_id:
                continue
            jaccard, in_text, text_in = containment(h, values)
            if max(in_text, text_in) >= MATCH_THRESHOLD and jaccard < MATCH_THRESHOLD:
                direction = "generation_in_text" if in_text >= text_in else "text_in_generation"
                found.append({"manifest_id": candidate, "similarity": round(max(in_text, text_in), 4),
                              "direction": direction, "signature_valid": bool(check(candidate)[0])})
        record["containment"] = sorted(found, key=lambda item: -item["similarity"])
        if best is None:
            options = [{"manifest_id": d["manifest_id"], "kind": "near_duplicate", "similarity": d["similarity"]}
                       for d in record["near_duplicates"] if d["similarity"] >= MATCH_THRESHOLD]
            options += [{"manifest_id": c["manifest_id"], "kind": "containment", "similarity": c["similarity"]}
                        for c in record["containment"]]
            best = max(options, key=lambda item: item["similarity"], default=None)
        if record["match"] is None:
            record["match"] = best["kind"] if best else ("near_duplicate" if record["near_duplicates"] else None)
        record["best_match"] = best
        records.append(record)
    return records


def _mtime(path: Path) -> tuple[int, int] | None:
    """(mtime_ns, inode) of a key file, None when there is none."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_ino


@dataclass
class ProvenanceResult(SignalResult):
    """The lookup record (``value``); ``best_match`` (manifest id, kind, similarity) is what a verdict stores."""

    value: dict[str, Any]

    @property
    def best_match(self) -> dict[str, Any] | None:
        return self.value.get("best_match")

    def record(self) -> dict[str, Any] | None:
        return self.best_match


class ProvenanceSignal(BaseSignal):
    """The ledger lookup for a configured store: ``score`` follows the signal protocol (its own connection);
    ``lookup`` takes a ``connection`` to see a transaction's uncommitted rows, and a ``tenant``."""

    name = "provenance"
    indexed = {"ledger_manifest_id": "manifest_id"}
    flat = {"export": ("ledger_manifest_id",), "api": ("ledger_manifest_id",)}

    @classmethod
    def flat_fields(cls, records: Mapping[str, Any], view: str) -> dict[str, Any]:
        """The matched manifest's id (a reader withholds the record when the manifest is not its tenant's)."""
        match = records.get(cls.name)
        return {"ledger_manifest_id": match.get("manifest_id") if isinstance(match, dict) else None}

    def __init__(self, settings: Settings, *, public_key: Any = None, engine: Engine | None = None) -> None:
        self.settings = settings
        self._public_key = public_key
        self._engine = engine

    @property
    def version(self) -> str:
        return "ledger:exact+minhash128+containment"

    def availability(self) -> Availability:
        return Availability(True)

    @classmethod
    def stamp(cls, settings: Settings, **options: Any) -> Any:
        """The signing key files' modification times (two ``stat`` calls): a new platform key (installed from
        the store, or restored) makes ``SignalSet`` rebuild the signal, which then checks manifests with it.
        A caller that passes its own ``public_key`` keeps it: nothing to reload."""
        if options.get("public_key") is not None:
            return None
        from provenance.signing import PUBLIC_KEY_FILE, SIGNING_KEY_FILE, keys_dir

        folder = keys_dir(settings.home)
        return tuple(_mtime(folder / name) for name in (PUBLIC_KEY_FILE, SIGNING_KEY_FILE))

    @property
    def public_key(self) -> Any:
        """The installation's public key, read (never created) from the data home (the public key file, else
        derived from the signing key); None when there is neither."""
        if self._public_key is None:
            from provenance.signing import PUBLIC_KEY_FILE, SIGNING_KEY_FILE, keys_dir, load_public_key

            folder = keys_dir(self.settings.home)
            if (folder / PUBLIC_KEY_FILE).is_file():
                self._public_key = load_public_key(folder / PUBLIC_KEY_FILE)
            elif (folder / SIGNING_KEY_FILE).is_file():
                from cryptography.hazmat.primitives import serialization

                private = serialization.load_pem_private_key((folder / SIGNING_KEY_FILE).read_bytes(), password=None)
                self._public_key = private.public_key()
        return self._public_key

    def lookup(self, texts: Sequence[str], *, connection: Connection | None = None,
               tenant: str | None = None) -> list[dict[str, Any]]:
        """The full lookup records (the API's ``provenance`` objects); ``tenant`` searches only its ledger."""
        if connection is None:
            from provenance.store.engine import get_engine

            source: Engine | Connection = self._engine or get_engine(self.settings.resolved_database_url)
        else:
            source = connection
        return lookup_many(source, self.public_key, texts, tenant=tenant,
                           key_filter=self.settings.ledger_key_filter)

    def verify(self, manifest: dict[str, Any]) -> tuple[bool, str]:
        """(valid, reason) of a stored manifest's Ed25519 signature with the installation's public key: the one
        check the ledger lookup, the API and the dashboard share. The text is not compared with ``text_sha256``
        (a store keeps only the redacted text, which differs whenever PII was found)."""
        if self.public_key is None:
            return False, (f"cannot verify: no public key in {self.settings.home} "
                           "(export one with provenance keys public)")
        try:
            return verify_manifest(manifest, self.public_key, None)
        except Exception as exc:  # noqa: BLE001 - a malformed manifest is a reason to show, not a traceback
            return False, f"cannot verify: {exc}".splitlines()[0]

    def score(self, texts: Sequence[str]) -> list[ProvenanceResult]:
        """The signal protocol: its own connection. A caller inside a transaction uses ``lookup`` instead."""
        return [ProvenanceResult(record) for record in self.lookup(texts)]
