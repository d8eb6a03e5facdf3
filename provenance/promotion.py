"""Which detector bundle is active, and the promotions that made it so (``provenance detect promote``).

``<home>/detectors/active.json`` names the active bundle and keeps every promotion and rollback, so
``promote PREVIOUS`` knows where to go back to and the dashboard can show the last before/after numbers. An
explicit ``PROVENANCE_DETECTOR_BUNDLE`` still wins (a deployment that pins its bundle keeps it pinned).

A bundle is promoted only when its card (written by ``detect retrain --from-reviews``) holds a comparison with
the bundle active *now* that finds no problem when the promotion rule is applied again here (the card's own
``promotable`` is not trusted), and both bundles' signatures verify (``provenance.artifact_signing``);
otherwise promotion is refused with the numbers. ``active.json`` is signed too, and a state file this
installation did not sign is refused. Reading the state (and bundle names, cards and versions) is
``provenance.bundles``' job, JSON only; this module only promotes and rolls back.

A promotion (or rollback) and its audit row are one step: the audit row is written and flushed first, then
``active.json`` is replaced, then the transaction commits; a database failure leaves ``active.json`` as it was,
and a failure after the file was replaced puts the old file back. No promotion happens unaudited.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from provenance.bundles import (
    DETECTOR_KIND,
    NO_BUNDLE,
    PromotionError,
    active_bundle_name,
    bundle_dir,
    bundle_version,
    read_bundle_card,
    read_state,
    state_path,
    write_state,
)
from provenance.settings import Settings

PREVIOUS = "PREVIOUS"
_write_state = write_state  # the name the audited write (and its failure test) use


def _card(settings: Settings, name: str) -> dict[str, Any]:
    """The bundle's card, read only after the bundle's signature (every file, the card included) verifies:
    a comparison written into a card by hand is never believed."""
    from provenance.artifact_signing import ArtifactSignatureError, verify_directory

    directory = bundle_dir(settings, name)
    card = read_bundle_card(directory)
    if card is None:
        raise PromotionError(f"no detector bundle {name!r} at {directory}",
                             hint="train one with provenance detect retrain --from-reviews --out NAME")
    try:
        verify_directory(settings.home, directory, DETECTOR_KIND)
    except ArtifactSignatureError as exc:
        raise PromotionError(f"{exc}: nothing promoted", hint=exc.hint) from None
    return card


def _same_scorer(first: dict[str, Any], second: dict[str, Any]) -> bool:
    keys = ("weights_sha256", "tokenizer_fingerprint", "statistics")
    return all((first.get("scorer") or {}).get(k) == (second.get("scorer") or {}).get(k) for k in keys)


def _figures(comparison: dict[str, Any], side: str) -> dict[str, Any]:
    """The numbers a promotion is judged on, for one side (active or candidate)."""
    reviewed = (comparison.get("reviewed_held_back") or {}).get(side) or {}
    lodo = (comparison.get("base_leave_one_domain_out") or {}).get(side) or {}
    return {"reviewed_auroc": reviewed.get("auroc"), "reviewed_uncertain_share": reviewed.get("uncertain_share"),
            "base_left_out_auroc": {domain: row.get("auroc") for domain, row in lodo.items()}}


def promote(settings: Settings, name: str, *, actor: str = "cli") -> dict[str, Any]:
    """Make ``name`` active when its recorded comparison allows it (``PREVIOUS``: roll back), audited as
    ``actor``. Returns the history entry written."""
    state = read_state(settings)
    current = active_bundle_name(settings)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == PREVIOUS:
        history = state.get("history") or []
        if not history or not history[-1].get("previous"):
            raise PromotionError("no earlier bundle to roll back to",
                                 hint="provenance detect promote NAME makes a bundle active")
        target = history[-1]["previous"]
        _card(settings, target)
        entry = {"kind": "rollback", "name": target, "previous": current, "at": now}
    else:
        if name == current:
            raise PromotionError(f"bundle {name!r} is already active", hint="nothing to do")
        card = _card(settings, name)
        active_version = bundle_version(settings, current)
        entry = {"kind": "promote", "name": name, "previous": current, "at": now}
        if active_version != NO_BUNDLE:
            active_card = _card(settings, current)
            if not _same_scorer(card, active_card):
                raise PromotionError(
                    f"bundle {name!r} was trained for scorer {(card.get('scorer') or {}).get('name')}, the active "
                    f"bundle {current!r} for {(active_card.get('scorer') or {}).get('name')}: nothing promoted",
                    hint="retrain with the active bundle's scorer (PROVENANCE_MODEL / PROVENANCE_SCORER_MODEL)")
            comparison = (card.get("retrain") or {}).get("comparison")
            if not comparison:
                raise PromotionError(f"bundle {name!r} records no comparison with the active bundle: nothing promoted",
                                     hint="train it with provenance detect retrain --from-reviews --out NAME")
            if comparison.get("active_version") != active_version:
                raise PromotionError(f"bundle {name!r} was compared with {comparison.get('active_version')}, but the "
                                     f"active bundle is now {active_version}: nothing promoted",
                                     hint="retrain against the active bundle: provenance detect retrain "
                                          "--from-reviews --out NAME")
            # Recomputed from the recorded figures: the card's own "promotable"/"problems" are not trusted.
            from detect.review_data import promotion_checks

            problems = promotion_checks(comparison)
            if problems:
                raise PromotionError(f"bundle {name!r} is worse than the active bundle {current!r}: "
                                     + "; ".join(problems) + ". Nothing promoted",
                                     hint="review more items (queue ordering uncertainty) and retrain")
            entry.update(before=_figures(comparison, "active"), after=_figures(comparison, "candidate"))
    state["active"] = entry["name"]
    state.setdefault("history", []).append(entry)
    _audited_write(settings, state, entry, actor)
    _publish(settings, entry, actor)
    return entry


def _publish(settings: Settings, entry: dict[str, Any], actor: str) -> None:
    """Once the store serves bundles to other hosts, the promotion is published there too (they follow at their
    next chunk). The promotion itself is already done and audited: a failure here says so and how to finish."""
    from provenance.artifacts import DETECTOR, publish, store_in_use
    from provenance.errors import ProvenanceError

    try:
        if store_in_use(settings):
            publish(settings, (DETECTOR,), actor=actor)
    except Exception as exc:
        raise ProvenanceError(f"bundle {entry['name']!r} is active here, but publishing it to the store failed "
                              f"({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
                              hint="other hosts keep the previous bundle until you run provenance artifacts "
                                   "publish --kind detector-bundle") from None


def _audited_write(settings: Settings, state: dict[str, Any], entry: dict[str, Any], actor: str) -> None:
    """The audit row first (flushed, so a database failure surfaces before anything changes), then the state
    file, then the commit; the old state file comes back if anything after its replacement fails."""
    from sqlalchemy.exc import SQLAlchemyError

    from provenance.store import ensure_schema, session_scope
    from provenance.store.audit import audit

    path = state_path(settings)
    before = path.read_bytes() if path.is_file() else None
    replaced = False
    try:
        ensure_schema(settings.resolved_database_url)
        with session_scope(settings.resolved_database_url) as session:
            audit(session, actor=actor, action=f"detect.{entry['kind']}", subject_type="bundle",
                  subject_id=entry["name"], details={key: entry.get(key) for key in ("previous", "before", "after")})
            session.flush()
            _write_state(settings, state)
            replaced = True
    except BaseException as exc:
        if replaced:
            if before is None:
                path.unlink(missing_ok=True)
            else:
                _restore(path, before)
        if isinstance(exc, SQLAlchemyError):
            done = "rolled back" if entry["kind"] == "rollback" else "promoted"
            raise PromotionError(f"could not write the audit row ({exc.__class__.__name__}: "
                                 f"{str(exc).splitlines()[0]}): nothing {done}",
                                 hint="check the database (PROVENANCE_DATABASE_URL) and try again") from None
        raise


def _restore(path: Path, content: bytes) -> None:
    handle, staging = tempfile.mkstemp(prefix=".active.", dir=path.parent)
    with os.fdopen(handle, "wb") as out:
        out.write(content)
    os.replace(staging, path)
