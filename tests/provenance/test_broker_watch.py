"""The broker-restart watch on a real redis-server and a real SQLite store: a restart is noticed by its new
``run_id``, exactly one of several workers re-sends, and what it re-sends is every chunk still queued in a live
job (not running, done or another job's that ended). The drills in test_pipeline_workers.py run it in workers."""

from __future__ import annotations

from pathlib import Path

from provenance.pipeline.broker_watch import BrokerWatch, resend_after_restart
from provenance.settings import Settings
from provenance.store import Chunk, ScanJob, session_scope, upgrade


def store_with_chunks(tmp_path: Path) -> tuple[Settings, list[int]]:
    """A running job with two queued, one running and one done chunk, and a finished job's queued chunk."""
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    upgrade(url)
    with session_scope(url) as session:
        session.add_all([ScanJob(id="live", status="running", bundle_version="v"),
                         ScanJob(id="ended", status="done", bundle_version="v")])
        session.flush()
        chunks = [Chunk(job_id="live", status=status) for status in ("queued", "running", "done", "queued")]
        chunks.append(Chunk(job_id="ended", status="queued"))
        session.add_all(chunks)
        session.flush()
        queued = [chunks[0].id, chunks[3].id]
    return Settings(home=tmp_path / "home", database_url=url), queued


def test_a_redis_restart_is_noticed_and_one_worker_resends_the_queued_chunks(tmp_path: Path, redis_server) -> None:
    settings, queued = store_with_chunks(tmp_path)
    workers = [BrokerWatch(redis_server.url) for _ in range(3)]
    sent: list[list[int]] = [[] for _ in workers]
    for index, watch in enumerate(workers):  # each worker's first beat: the identity at start, nothing to do
        assert resend_after_restart(settings, watch, sent[index].append) == 0
    for index, watch in enumerate(workers):  # nothing changed: still nothing
        assert resend_after_restart(settings, watch, sent[index].append) == 0
    redis_server.restart()
    counts = [resend_after_restart(settings, watch, sent[index].append) for index, watch in enumerate(workers)]
    assert sorted(counts) == [0, 0, len(queued)]  # one worker won the right to re-send
    assert sorted(chunk for batch in sent for chunk in batch) == queued
    assert [resend_after_restart(settings, watch, sent[i].append) for i, watch in enumerate(workers)] == [0, 0, 0]


def test_an_unreachable_broker_is_not_a_restart_and_the_embedded_broker_is_not_watched(tmp_path: Path) -> None:
    settings, _queued = store_with_chunks(tmp_path)
    sent: list[int] = []
    embedded = BrokerWatch(f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}")
    assert not embedded.watches and resend_after_restart(settings, embedded, sent.append) == 0
    from testkit.services import free_port

    nowhere = BrokerWatch(f"redis://127.0.0.1:{free_port()}/0")
    assert nowhere.watches
    assert [resend_after_restart(settings, nowhere, sent.append) for _ in range(2)] == [0, 0] and sent == []
