"""Celery tasks. Each task is a thin shell: the work and its guarantees live in ``processing``."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import DBAPIError, OperationalError

from provenance.pipeline.processing import process_chunk
from provenance.settings import get_settings

log = logging.getLogger(__name__)
TRANSIENT_ERRORS = (OperationalError, DBAPIError, ConnectionError, TimeoutError)
MAX_RETRIES = 6


def is_transient(exc: BaseException) -> bool:
    """A database or connection error, raised as is or wrapped on the way up: ``ensure_schema`` (which the
    store-fed host's per-chunk artifact check runs) turns a refused connection into a ``ProvenanceError`` for
    the command line, and such a chunk must be retried like any other cut by a PostgreSQL restart, not failed
    and left for the stall recovery."""
    seen: BaseException | None = exc
    for _ in range(8):  # a chain is short; never loop on a cycle
        if seen is None:
            return False
        if isinstance(seen, TRANSIENT_ERRORS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@shared_task(name="provenance.score_chunk", bind=True, acks_late=True, reject_on_worker_lost=True,
             max_retries=MAX_RETRIES)
def score_chunk(self, chunk_id: int) -> dict:
    """Score one chunk of documents; retried with exponential backoff on transient database errors. The retry
    keeps the task id, which is what lets it re-own the chunk its failed attempt left ``running``."""
    try:
        outcome = process_chunk(get_settings(), int(chunk_id), task_id=self.request.id)
    except SoftTimeLimitExceeded:
        log.warning("chunk %s hit the soft time limit; its lease expires and another worker retries it", chunk_id)
        raise
    except Exception as exc:
        if not is_transient(exc):
            raise
        countdown = min(60, 2 ** self.request.retries)
        log.warning("chunk %s: transient error (%s); retry in %ss", chunk_id, exc.__class__.__name__, countdown)
        raise self.retry(exc=exc, countdown=countdown) from exc
    log.info("chunk %s: %s", chunk_id, outcome)
    return outcome
