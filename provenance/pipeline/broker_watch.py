"""Notice a restarted broker and re-send its lost messages at once, instead of after a stall.

A Redis started without persistence comes back empty: every queued chunk message is gone, while the database
still has those chunks ``queued``. Stall recovery would find them only after ``stall_seconds`` without
progress (60 s by default), and not at all while in-flight chunks keep finishing. So each worker's heartbeat
reads the broker's identity (Redis ``run_id``, new on every server start); when it changes, the chunks still
``queued`` in the database are published again. One worker does it per restart: the right to re-send is a
``SET NX`` key in the new server itself, so it needs no table and a later restart gets a fresh key. A chunk
sent twice is harmless (claims are conditional, verdicts unique), so a lost race costs nothing but a skip.
The embedded SQL broker keeps its messages in a file and has no restart to notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select

from provenance.settings import Settings
from provenance.store import Chunk, ScanJob, session_scope

log = logging.getLogger(__name__)
RESEND_KEY = "provenance:resent-after-restart:{run_id}"
RESEND_KEY_TTL = 24 * 3600


class BrokerWatch:
    """One per worker process: remembers the broker identity it last saw."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url
        self.identity: str | None = None
        self._previous: str | None = None
        self._client = None

    @property
    def watches(self) -> bool:
        return self.broker_url.startswith(("redis://", "rediss://"))

    def _redis(self):  # noqa: ANN202 - redis.Redis, imported only for a Redis broker
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.broker_url, socket_timeout=2, socket_connect_timeout=2)
        return self._client

    def restarted(self) -> str | None:
        """The broker's new identity when it changed since the last call (None the first time, while it is
        unreachable, or when nothing changed). Raises nothing: an unreachable broker is "not yet"."""
        if not self.watches:
            return None
        try:
            identity = str(self._redis().info("server")["run_id"])
        except Exception:  # noqa: BLE001 - down or restarting: ask again at the next beat
            return None
        self._previous, self.identity = self.identity, identity
        return identity if self._previous is not None and self._previous != identity else None

    def forget(self) -> None:
        """Undo the last ``restarted`` (the re-send could not run): the next call reports the change again."""
        self.identity = self._previous

    def claim_resend(self, identity: str) -> bool:
        """True for exactly one worker per broker start: the first to set the key in the new server."""
        try:
            return bool(self._redis().set(RESEND_KEY.format(run_id=identity), "1", nx=True, ex=RESEND_KEY_TTL))
        except Exception:  # noqa: BLE001 - gone again: the next identity change (or stall recovery) covers it
            return False


def queued_chunks(settings: Settings) -> list[int]:
    """Chunks of live jobs that wait for a message (their message may be the one the broker lost)."""
    with session_scope(settings.resolved_database_url) as session:
        return list(session.scalars(
            select(Chunk.id).join(ScanJob, ScanJob.id == Chunk.job_id)
            .where(ScanJob.status.in_(("queued", "running")), Chunk.status == "queued").order_by(Chunk.id)))


def resend_after_restart(settings: Settings, watch: BrokerWatch, send: Callable[[int], None]) -> int:
    """Re-send the queued chunks if the broker restarted since the last call and this worker won the right to;
    returns how many were sent."""
    identity = watch.restarted()
    if identity is None:
        return 0
    try:
        chunk_ids = queued_chunks(settings)
    except Exception:
        watch.forget()  # the database is away too: notice the restart again at the next beat
        raise
    if not watch.claim_resend(identity):
        return 0
    for chunk_id in chunk_ids:
        send(chunk_id)
    log.warning("broker restarted (run_id %s): re-sent %d queued chunk(s)", identity[:8], len(chunk_ids))
    return len(chunk_ids)
