"""Audit rows for the hot path, written in batches by one background thread.

Verification must not pay for a database transaction per request, yet every verification needs its audit row.
Rows go into an in-memory queue; a thread inserts whatever is queued every 100 ms in one transaction, and
``close()`` (called at shutdown) drains the queue, so nothing acknowledged is lost on a clean stop. A failed
insert is retried on the next tick (rows are kept, and the error is logged once per failure streak).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from sqlalchemy import Engine, insert

from provenance.store.models import AuditLog, utcnow

log = logging.getLogger("provenance.api.audit")
FLUSH_SECONDS = 0.1
MAX_BATCH = 5000


class AuditWriter:
    def __init__(self, engine: Engine, *, interval: float = FLUSH_SECONDS) -> None:
        self.engine = engine
        self.interval = interval
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._pending: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, *, actor: str, action: str, subject_type: str | None = None, subject_id: Any = None,
               details: dict[str, Any] | None = None) -> None:
        """Queue one row. ``details`` must hold hashes and ids, never raw text or secrets."""
        self._queue.put({"at": utcnow(), "actor": actor, "action": action, "subject_type": subject_type,
                         "subject_id": None if subject_id is None else str(subject_id),
                         "details": dict(details or {})})

    def flush(self) -> int:
        """Write everything queued so far; returns the number of rows written."""
        with self._lock:
            while len(self._pending) < MAX_BATCH:
                try:
                    self._pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if not self._pending:
                return 0
            with self.engine.begin() as connection:
                connection.execute(insert(AuditLog), self._pending)
            written = len(self._pending)
            self._pending = []
            return written

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self.interval):
            try:
                while self.flush() >= MAX_BATCH:
                    pass
                failing = False
            except Exception as exc:  # keep the rows, retry next tick
                if not failing:
                    log.error("audit insert failed (will retry): %s", exc.__class__.__name__)
                failing = True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        while self.flush():
            pass
