"""Reliability under failure, as counts: a worker killed with SIGKILL mid-job (embedded broker and Redis),
Redis restarted mid-job (no persistence: its queue is lost), the same dump scanned twice, and a dump with 1%
malformed lines. For each: input lines, job items, documents with exactly one verdict, documents with none,
documents with more than one, quarantine records. The baseline is the input itself: every line must be
accounted for exactly once.

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/pipeline_reliability.py --docs 400
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from pipeline_common import (
    RedisServer,
    WorkerProcess,
    add_input_arguments,
    env_for,
    fresh_home,
    settings_for,
    start_redis,
    unique_documents,
    wait_job,
    write_jsonl,
)
from pipeline_throughput import prepare_base
from sqlalchemy import func, select

from provenance.store import JobItem, ScanJob, VerdictRow, session_scope

FAST_RECOVERY = {"PROVENANCE_STALL_SECONDS": "5", "PROVENANCE_CHUNK_LEASE_SECONDS": "30",
                 "PROVENANCE_TASK_TIME_LIMIT": "25", "PROVENANCE_SCAN_CHUNK_SIZE": "8"}


def counts(settings, job_id: str, lines: int) -> dict:
    with session_scope(settings.resolved_database_url) as session:
        job = session.get(ScanJob, job_id)
        items = session.execute(select(JobItem.seq, JobItem.outcome, JobItem.document_id)
                                .where(JobItem.job_id == job_id)).all()
        documents = [i.document_id for i in items if i.outcome == "document"]
        per_document = dict(session.execute(
            select(VerdictRow.document_id, func.count()).where(VerdictRow.document_id.in_(documents),
                                                            VerdictRow.bundle_version == job.bundle_version)
            .group_by(VerdictRow.document_id)).all())
    seqs = [i.seq for i in items]
    return {
        "input_lines": lines, "job_items": len(items), "lines_missing": lines - len(set(seqs)),
        "lines_twice": len(seqs) - len(set(seqs)), "documents": len(documents),
        "documents_with_one_verdict": sum(1 for d in documents if per_document.get(d) == 1),
        "documents_without_verdict": sum(1 for d in documents if d not in per_document),
        "documents_with_several_verdicts": sum(1 for d in documents if per_document.get(d, 0) > 1),
        "duplicates": sum(1 for i in items if i.outcome == "duplicate"),
        "quarantined": sum(1 for i in items if i.outcome == "quarantined"), "status": job.status,
        "new_verdicts": job.new_verdicts,
    }


def submit(env, dump: Path) -> str:
    from provenance.pipeline.submission import submit_paths
    from provenance.settings import get_settings

    os.environ.update({k: v for k, v in env.items() if k.startswith("PROVENANCE_")})
    for key in [k for k in os.environ if k.startswith("PROVENANCE_") and k not in env]:
        del os.environ[key]
    get_settings.cache_clear()
    from provenance.pipeline.celery_app import celery_for

    celery_for.cache_clear()
    return submit_paths(settings_for(env), [dump])


def kill_mid_job(base: Path, model: str, dump: Path, lines: int, broker: str | None, name: str) -> dict:
    home = fresh_home(base, name)
    env = env_for(home, model, broker, **FAST_RECOVERY)
    settings = settings_for(env)
    first = WorkerProcess(env, home / "worker-1.log", concurrency=1, loglevel="WARNING")
    first.wait_ready()
    job_id = submit(env, dump)
    at_kill = wait_job(settings, job_id, lambda s: s["chunks_done"] >= 3)
    first.kill()
    second = WorkerProcess(env, home / "worker-2.log", concurrency=1, loglevel="WARNING")
    try:
        second.wait_ready()
        wait_job(settings, job_id)
    finally:
        second.stop()
    return {"chunks_done_at_kill": at_kill["chunks_done"], "chunks_total": at_kill["chunks_total"],
            **counts(settings, job_id, lines)}


def redis_restart(base: Path, model: str, dump: Path, lines: int, redis: RedisServer) -> dict:
    home = fresh_home(base, "redis-restart")
    env = env_for(home, model, redis.url, **FAST_RECOVERY)
    settings = settings_for(env)
    worker = WorkerProcess(env, home / "worker.log", concurrency=1, loglevel="WARNING")
    try:
        worker.wait_ready()
        job_id = submit(env, dump)
        at_restart = wait_job(settings, job_id, lambda s: s["chunks_done"] >= 3)
        redis.restart()
        wait_job(settings, job_id)
    finally:
        worker.stop()
    return {"chunks_done_at_restart": at_restart["chunks_done"], **counts(settings, job_id, lines)}


def rescan_and_malformed(base: Path, model: str, texts: list[str], root: Path) -> dict:
    home = fresh_home(base, "rescan")
    env = env_for(home, model, None, **FAST_RECOVERY)
    settings = settings_for(env)
    path = write_jsonl(root / "malformed.jsonl", texts)
    lines = path.read_text(encoding="utf-8").splitlines()
    bad = set(range(50, len(lines), 100))  # 1% of the lines
    for index in bad:
        lines[index] = lines[index][: len(lines[index]) // 2]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    worker = WorkerProcess(env, home / "worker.log", concurrency=1, loglevel="WARNING")
    try:
        worker.wait_ready()
        first = submit(env, path)
        wait_job(settings, first)
        second = submit(env, path)
        wait_job(settings, second)
    finally:
        worker.stop()
    return {"malformed_lines_written": len(bad), "first_scan": counts(settings, first, len(lines)),
            "second_scan": counts(settings, second, len(lines))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=400)
    add_input_arguments(parser)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="provenance-bench-reliability-"))
    base = root / "base"
    prepare_base(base, args.model, args.bundle, args.data)
    texts = unique_documents(args.docs, args.data, args.corpus)
    dump = write_jsonl(root / "dump.jsonl", texts)
    report: dict = {"benchmark": "pipeline_reliability", "docs": len(texts)}
    report["kill_worker_embedded"] = kill_mid_job(base, args.model, dump, len(texts), None, "kill-embedded")
    print(json.dumps({"progress": "kill_worker_embedded"}), flush=True)
    redis = None
    try:
        redis = start_redis(root / "redis")
        report["kill_worker_redis"] = kill_mid_job(base, args.model, dump, len(texts), redis.url, "kill-redis")
        redis.restart()
        report["redis_restart"] = redis_restart(base, args.model, dump, len(texts), redis)
    except FileNotFoundError as exc:
        report["redis"] = f"skipped: {exc}"
    finally:
        if redis is not None:
            redis.stop()
    report["rescan_with_1pct_malformed"] = rescan_and_malformed(base, args.model, texts, root)
    print(json.dumps(report))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
