"""Keep a store-fed dashboard's home current without a restart.

``provenance dashboard`` syncs the store's artifacts once before Streamlit starts; a bundle promoted (and so
published) on another host afterwards would otherwise stay invisible: the stats page's active bundle, the
explanation cards and the manifest check read the home. So each page run asks the store again, at most every
``dashboard_artifact_sync_seconds`` per server process (one small query when nothing moved). What it installs
reaches the judging code through the ``SignalSet`` stamps, as a promotion reaches a worker.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from provenance.settings import Settings

_lock = threading.Lock()
_last_sync: dict[tuple[str, str], float] = {}  # (home, database) -> monotonic time of the last sync


def refresh_artifacts(settings: Settings) -> dict[str, str] | None:
    """``provenance.artifacts.sync``'s outcome when a sync was due, else None (not store-fed, or synced within
    the interval). Raises what ``sync`` raises (an ``ArtifactStoreError`` the page shows as a warning)."""
    if not settings.artifacts_from_store:
        return None
    key = (str(settings.home), settings.resolved_database_url)
    now = time.monotonic()
    with _lock:
        last = _last_sync.get(key)
        if last is not None and now - last < settings.dashboard_artifact_sync_seconds:
            return None
        _last_sync[key] = now
    from provenance.artifacts import sync

    return sync(settings)


def forget() -> None:
    """Make the next page run sync (tests)."""
    with _lock:
        _last_sync.clear()


def describe(outcome: dict[str, Any] | None) -> str | None:
    """A caption for the page when something new arrived, else None."""
    if not outcome:
        return None
    arrived = sorted(kind for kind, what in outcome.items() if what == "installed")
    return f"Fetched from the store: {', '.join(arrived)}" if arrived else None
