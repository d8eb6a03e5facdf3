"""Write generations to the ledger: each signed manifest plus an audit row, in one transaction.

`provenance generate`, the demo and the API's /v1/generate call this, so "did our generator write this?"
can be answered later from the database (exactly, or after edits through MinHash LSH).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from provenance.settings import Settings
from provenance.store import ensure_schema, session_scope
from provenance.store.audit import audit
from provenance.store.ledger import record_manifest


def record_generations(settings: Settings, manifests: Iterable[Mapping[str, Any]], *, actor: str,
                       toxicity_events: Iterable[Mapping[str, Any]] = ()) -> int:
    """Store manifests (idempotent per manifest id) and the toxicity screen's withheld/regenerated events
    (scores and hashes only, never the text) in one transaction; returns how many manifests were given."""
    manifests = list(manifests)
    events = list(toxicity_events)
    if not manifests and not events:
        return 0
    from provenance.home import remember_model

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
