"""The Celery application: one place decides broker, reliability and pool settings.

Two brokers: the embedded default ``sqla+sqlite:///<home>/broker.sqlite`` (kombu's SQLAlchemy transport: no
server to run) and Redis (``PROVENANCE_BROKER_URL=redis://...``) for many workers on many machines. Tasks are
acknowledged late and rejected (re-queued) when their worker dies, one message is prefetched per process, and
results are not stored: every outcome lives in the platform's database. The embedded transport never
redelivers a message its consumer died holding, which is why the database's chunk queue, not the broker, is
the source of truth (see ``provenance.pipeline.recovery``).
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from pathlib import Path

from celery import Celery

from provenance.settings import Settings, get_settings

SCAN_QUEUE = "provenance-scan"
SQLA_POLLING_INTERVAL = 0.2  # seconds between polls of the embedded broker's table


def is_embedded(broker_url: str) -> bool:
    return broker_url.startswith("sqla+")


def _prepare_sqlite_broker(broker_url: str) -> None:
    """WAL mode is a property of the file: set it once so many processes can poll and publish together."""
    database = broker_url.split(":///", 1)[1] if ":///" in broker_url else ""
    if not database or database == ":memory:":
        return
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(database, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def make_celery(settings: Settings) -> Celery:
    broker = settings.resolved_broker_url
    app = Celery("provenance", broker=broker, include=["provenance.pipeline.tasks", "provenance.pipeline.workers"])
    transport_options: dict = {}
    if is_embedded(broker):
        from kombu.transport.sqlalchemy import Transport

        Transport.polling_interval = SQLA_POLLING_INTERVAL  # a class attribute: the transport reads no option
        _prepare_sqlite_broker(broker)
        transport_options = {"connect_args": {"timeout": 30}}
    elif broker.startswith(("redis://", "rediss://")):
        # Unacknowledged messages come back after this long: longer than any task may run.
        transport_options = {"visibility_timeout": int(max(settings.chunk_lease_seconds, settings.task_time_limit)
                                                       + 60)}
    app.conf.update(
        task_default_queue=SCAN_QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=settings.task_time_limit * 0.9,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_enable_remote_control=not is_embedded(broker),  # the SQL transport has no broadcast
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        task_serializer="json",
        accept_content=["json"],
    )
    return app


@lru_cache(maxsize=4)
def celery_for(broker_url: str) -> Celery:
    """One app per broker URL per process (the CLI and tests may point at several)."""
    settings = get_settings()
    if settings.resolved_broker_url != broker_url:
        settings = settings.model_copy(update={"broker_url": broker_url})
    return make_celery(settings)


def current_app() -> Celery:
    return celery_for(get_settings().resolved_broker_url)


# `celery -A provenance.pipeline.celery_app worker` finds this; `provenance worker` uses it too.
app = current_app()
