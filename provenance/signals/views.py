"""A stored verdict's records as the read views show them: one loop over the registry.

``verdicts export`` (and the API's job pages) and ``GET /v1/verdicts/{id}`` show each registered signal's flat
keys (``BaseSignal.flat`` / ``flat_fields``) beside the verdict's own; every other stored record (a signal
registered without flat keys, or one no longer registered) is shown under its name in ``signals``. ``order``
keeps a view's keys in their contract order, the keys it does not name after them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from provenance.signals.registry import REGISTRY, signal_class, signal_names


def _flat_signal(name: str) -> bool:
    return name in REGISTRY and bool(signal_class(name).flat)


def flat_view(records: Mapping[str, Any] | None, view: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(flat keys, records shown under their names) of one verdict's stored records in ``view``."""
    records = records or {}
    flat: dict[str, Any] = {}
    for name in signal_names():
        if _flat_signal(name):
            flat.update(signal_class(name).flat_fields(records, view))
    return flat, {name: record for name, record in records.items() if not _flat_signal(name)}


def order(record: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """``record`` with ``keys`` first, in that order (a view's contract order), then the rest."""
    keys = [key for key in keys if key in record]
    return {**{key: record[key] for key in keys}, **{k: v for k, v in record.items() if k not in keys}}
