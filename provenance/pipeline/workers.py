"""Worker process life cycle: one thread per worker says it is alive, re-sends what a restarted broker lost,
runs the stall recovery and sends due scan-job callbacks; pool processes use one torch thread each and load
their models once; `scan --wait` can start local workers.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import timedelta

from celery import signals
from sqlalchemy import delete, select

from provenance.settings import get_settings, mask_url_password
from provenance.store import WorkerHeartbeat, session_scope, utcnow

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 3.0
ALIVE_SECONDS = 15.0
FORGET_AFTER = timedelta(days=1)  # a row not seen for this long belongs to a worker that died without shutting down
_stop = threading.Event()
_state: dict[str, str] = {}


def _beat(hostname: str, concurrency: int) -> None:
    """Record that this worker is alive. Its first beat also deletes rows not seen for ``FORGET_AFTER``: a
    worker that shuts down removes its own row, but one that was killed (or whose host vanished) leaves it,
    and each worker has a new name (``provenance-<pid>@<host>``), so without this they would pile up."""
    settings = get_settings()
    with session_scope(settings.resolved_database_url) as session:
        row = session.get(WorkerHeartbeat, hostname)
        if row is None:
            forgotten = session.execute(delete(WorkerHeartbeat).where(
                WorkerHeartbeat.last_seen < utcnow() - FORGET_AFTER)).rowcount
            if forgotten:
                log.info("forgot %d worker heartbeat row(s) not seen for %s", forgotten, FORGET_AFTER)
            session.add(WorkerHeartbeat(hostname=hostname, pid=os.getpid(), concurrency=concurrency,
                                        broker=mask_url_password(settings.resolved_broker_url)))
        else:
            row.last_seen, row.pid = utcnow(), os.getpid()


def _heartbeat_loop(hostname: str, concurrency: int) -> None:
    from provenance.pipeline.broker_watch import BrokerWatch, resend_after_restart
    from provenance.pipeline.recovery import recover_all
    from provenance.pipeline.submission import send_chunk

    settings = get_settings()
    watch = BrokerWatch(settings.resolved_broker_url)
    watch.restarted()  # the identity at start: a change from here on is a restart

    def send(chunk_id: int) -> None:
        send_chunk(settings, chunk_id)

    while not _stop.wait(HEARTBEAT_SECONDS):
        try:
            _beat(hostname, concurrency)
            resend_after_restart(settings, watch, send)  # a restarted Redis lost its queue: re-send it now
            recover_all(settings, send)
        except Exception as exc:  # a database hiccup must not kill the worker: the next beat tries again
            log.warning("heartbeat/recovery failed: %s", exc)


def _callback_loop() -> None:
    """Scan-job callbacks of ended jobs (each claimed, so one worker sends it): a thread of its own, because
    a slow receiver (up to the 10 s timeout per attempt) must never delay the heartbeat."""
    from provenance.pipeline.callbacks import deliver_due

    settings = get_settings()
    while not _stop.wait(HEARTBEAT_SECONDS):
        try:
            deliver_due(settings)
        except Exception as exc:  # the next round tries again; each attempt's outcome is in the audit log
            log.warning("callback delivery failed: %s", exc)


@signals.worker_ready.connect
def _on_worker_ready(sender=None, **_kwargs) -> None:
    from provenance.store import ensure_schema

    settings = get_settings()
    ensure_schema(settings.resolved_database_url)
    hostname = getattr(sender, "hostname", None) or f"worker@{socket.gethostname()}:{os.getpid()}"
    concurrency = int(getattr(sender, "concurrency", 1) or 1)
    _state["hostname"] = hostname
    _beat(hostname, concurrency)
    threading.Thread(target=_heartbeat_loop, args=(hostname, concurrency), name="provenance-heartbeat",
                     daemon=True).start()
    threading.Thread(target=_callback_loop, name="provenance-callbacks", daemon=True).start()


@signals.worker_shutdown.connect
def _on_worker_shutdown(**_kwargs) -> None:
    _stop.set()
    hostname = _state.get("hostname")
    if hostname:
        try:
            with session_scope(get_settings().resolved_database_url) as session:
                session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.hostname == hostname))
        except Exception as exc:
            log.warning("could not remove the heartbeat row: %s", exc)


@signals.worker_process_init.connect
def _on_process_init(**_kwargs) -> None:
    """Each pool process: one torch thread (processes side by side would oversubscribe the cores), fresh
    database connections, models loaded now rather than in the first task."""
    import torch

    from provenance.pipeline.processing import process_scorer
    from provenance.store.engine import dispose_engines

    settings = get_settings()
    torch.set_num_threads(settings.torch_threads or 1)
    dispose_engines()
    try:
        process_scorer(settings).warm_up()
    except Exception as exc:  # the task will report the same problem with context
        log.warning("model warm-up failed: %s", exc)


def live_workers(broker_url: str) -> int:
    settings = get_settings()
    cutoff = utcnow() - timedelta(seconds=ALIVE_SECONDS)
    with session_scope(settings.resolved_database_url) as session:
        rows = session.scalars(select(WorkerHeartbeat.concurrency).where(
            WorkerHeartbeat.last_seen >= cutoff, WorkerHeartbeat.broker == mask_url_password(broker_url))).all()
    return int(sum(rows))


def start_local_worker(concurrency: int, *, log_path: str | None = None) -> subprocess.Popen:
    """`provenance worker --concurrency N` as a child process (its output to ``log_path`` or discarded)."""
    output = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - owned by the child
    return subprocess.Popen([sys.executable, "-m", "provenance.cli", "worker", "--concurrency", str(concurrency)],
                            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)


def stop_local_worker(process: subprocess.Popen, timeout: float = 60.0) -> None:
    """SIGTERM = Celery's warm shutdown: finish the task in hand, then exit."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
