"""The many-hosts failure drills at size: PostgreSQL + Redis on loopback, the prepared home's artifacts
published to the store, three workers each on an empty data home of its own (`provenance worker --concurrency 1
--from-store`), and one failure mid-scan per run: a worker SIGKILLed, `pg_ctl restart -m fast`, Redis
restarted empty. For each run: documents lost (no verdict) and doubled (more than one), the stall after the
failure (longest wait between chunk completions from the failure to the end: a chunk that waited out its lease
or a stall timer shows here; the goal after a restart is < 30 s, not the 300 s lease; the same measure
before the failure is the baseline, since one chunk's scoring is a gap by itself), log lines that say a
chunk or the job waited out a timer, documents/s over the whole job, and `uptime` load. The baseline is the
input: every line must end as exactly one verdict. Timers are the defaults (what users get) unless --lease /
--stall are given; after a SIGKILL the killed worker's chunk comes back after its lease (300 s by default),
which is how a dead host's work returns, so that drill's stall is expected to be the lease.

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/pipeline_drills.py --docs 3000

Documents: the labelled detection data, then corpus paragraphs (`pipeline_common.unique_documents`); no
accuracy is measured, so the split does not matter beyond being the one the other pipeline benches use.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline_common import add_input_arguments, env_for, start_redis, unique_documents, wait_job, write_jsonl
from pipeline_throughput import prepare_base

from provenance.settings import Settings
from provenance.store import ScanJob, session_scope, utcnow
from testkit.drills import (
    SECRET,
    longest_gap_before,
    lost_and_doubled,
    publish_artifacts,
    stall_after,
    start_store_workers,
    waited_lines,
)
from testkit.services import PostgresServer, postgres_bindir

DRILLS = ("sigkill", "postgres_restart", "redis_restart")


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def submit(env: dict[str, str], dump: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "provenance.cli", "scan", str(dump), "--json"], env=env,
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"scan failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["job_id"]


def run_drill(name: str, base: Path, root: Path, model: str, dump: Path, redis, postgres: PostgresServer,  # noqa: ANN001
              timers: dict[str, str], workers_count: int) -> dict:
    """One drill on its own database, its own copy of the prepared home and fresh empty worker homes."""
    url = postgres.create_database(f"drill_{name}_{int(time.time())}")
    publisher = root / name / "publisher"
    shutil.copytree(base, publisher, ignore=shutil.ignore_patterns("*.sqlite*", "cache", "*.log"))
    env = env_for(publisher, model, redis.url, PROVENANCE_DATABASE_URL=url, PROVENANCE_SECRET_KEY=SECRET, **timers)
    settings = Settings(home=publisher, database_url=url)
    publish_artifacts(env)
    workers, _homes = start_store_workers(env, root / name, workers_count)
    try:
        started = time.monotonic()
        job_id = submit(env, dump)
        wait_job(settings, job_id,
                 lambda s: s["submission_done"] and s["chunks_done"] >= max(3, s["chunks_total"] // 3))
        broken_at = utcnow()
        load_at_failure = load()
        if name == "sigkill":
            workers[1].kill()
        elif name == "postgres_restart":
            postgres.restart()
        else:
            redis.restart()
        summary = wait_job(settings, job_id)
        seconds = time.monotonic() - started
        with session_scope(url) as session:
            job = session.get(ScanJob, job_id)
            chunks = (job.chunks_done, job.chunks_total)
        return {"status": summary["status"], **lost_and_doubled(settings, job_id), "chunks": chunks,
                "stall_after_failure_s": stall_after(settings, job_id, broken_at),
                "longest_gap_before_failure_s": longest_gap_before(settings, job_id, broken_at),
                "waited_out_a_timer": waited_lines(workers)[:5], "docs_per_s": round(summary["total"] / seconds, 2),
                "seconds": round(seconds, 1), "load_at_failure": load_at_failure, "load_at_end": load(),
                "workers_alive": sum(worker.process.poll() is None for worker in workers)}
    finally:
        for worker in workers:
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--drills", default=",".join(DRILLS), help="comma-separated subset of " + ", ".join(DRILLS))
    parser.add_argument("--lease", type=float, default=None, help="PROVENANCE_CHUNK_LEASE_SECONDS (default: the "
                        "platform's)")
    parser.add_argument("--stall", type=float, default=None, help="PROVENANCE_STALL_SECONDS (default: the platform's)")
    add_input_arguments(parser)
    args = parser.parse_args()
    drills = [drill.strip() for drill in args.drills.split(",") if drill.strip()]
    unknown = [drill for drill in drills if drill not in DRILLS]
    if unknown:
        raise SystemExit(f"unknown drill(s): {', '.join(unknown)}; choose from {', '.join(DRILLS)}")
    bindir = postgres_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install -y postgresql)")
    timers = {}
    if args.lease is not None:
        timers["PROVENANCE_CHUNK_LEASE_SECONDS"] = str(args.lease)
        timers["PROVENANCE_TASK_TIME_LIMIT"] = str(args.lease * 0.8)
    if args.stall is not None:
        timers["PROVENANCE_STALL_SECONDS"] = str(args.stall)
    root = Path(tempfile.mkdtemp(prefix="provenance-bench-drills-"))
    os.chmod(root, 0o755)  # PostgreSQL runs as its own user below it
    base = root / "base"
    prepare_base(base, args.model, args.bundle, args.data)
    texts = unique_documents(args.docs, args.data, args.corpus)
    dump = write_jsonl(root / "dump.jsonl", texts)
    report: dict = {"benchmark": "pipeline_drills", "docs": len(texts), "workers": args.workers,
                    "timers": timers or "defaults", "load_at_start": load()}
    redis = start_redis(root / "redis")
    postgres = PostgresServer(bindir, Path(tempfile.mkdtemp(prefix="provenance-bench-pg-")))
    try:
        postgres.start()
        for drill in drills:
            report[drill] = run_drill(drill, base, root, args.model, dump, redis, postgres, timers, args.workers)
            print(json.dumps({"progress": drill, **report[drill]}), flush=True)
    finally:
        redis.stop()
        postgres.stop()
        shutil.rmtree(postgres.directory, ignore_errors=True)
    print(json.dumps(report))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
