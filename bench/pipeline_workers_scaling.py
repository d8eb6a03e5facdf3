"""Workers scaling: documents/s with 1 worker against 2 workers, same documents, same run, each worker a
separate `provenance worker --concurrency 1 --from-store` process with its own empty data home, as on separate
hosts: the detector bundle and keys come from the run's database (`provenance artifacts publish`).

Each configuration gets a fresh database and broker; workers are warmed up (a 4-document job) before the clock
starts; the clock covers submission and scoring. Goal: 2 workers >= 1.8x one worker. The machine's load is
reported before and after each run (`os.getloadavg`): on a shared machine the figure says as much about the
neighbours as about the pipeline.

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/pipeline_workers_scaling.py --docs 400
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from pipeline_common import (
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

SECRET = "bench-only-key-encryption-key-0123456789"  # invented for this run; nothing real is encrypted


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def run(base: Path, root: Path, model: str, dump: Path, warm: Path, workers: int, broker: str | None,
        chunk: int) -> dict:
    """One configuration: publish the base home into a fresh database, start ``workers`` store-fed workers."""
    from provenance.artifacts import publish
    from provenance.pipeline.submission import submit_paths
    from provenance.settings import get_settings

    name = f"workers-{workers}"
    shutil.rmtree(root / name, ignore_errors=True)
    (root / name).mkdir()
    database = f"sqlite:///{root / name / 'store.sqlite'}"
    broker = broker or f"sqla+sqlite:///{root / name / 'broker.sqlite'}"
    home = fresh_home(base, f"{name}-publisher")
    common = {"PROVENANCE_DATABASE_URL": database, "PROVENANCE_SCAN_CHUNK_SIZE": str(chunk),
              "PROVENANCE_SECRET_KEY": SECRET}
    env = env_for(home, model, broker, **common)
    os.environ.update({k: v for k, v in env.items() if k.startswith("PROVENANCE_")})
    get_settings.cache_clear()
    settings = settings_for(env)
    publish(settings, actor="bench")
    processes = []
    try:
        for index in range(workers):
            host = root / name / f"host-{index}"
            host.mkdir()
            host_env = env_for(host, model, broker, PROVENANCE_ARTIFACTS_FROM_STORE="1", **common)
            processes.append(WorkerProcess(host_env, root / name / f"worker-{index}.log", loglevel="WARNING"))
        for process in processes:
            process.wait_ready()
        wait_job(settings, submit_paths(settings, [warm]))
        load_before = load()
        started = time.perf_counter()
        summary = wait_job(settings, submit_paths(settings, [dump]), poll=1.0)
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.stop()
    return {"docs_per_s": round(summary["scored"] / elapsed, 3), "seconds": round(elapsed, 1),
            "scored": summary["scored"], "load_before": load_before, "load_after": load()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=400)
    add_input_arguments(parser)
    parser.add_argument("--chunk-size", type=int, default=16)
    parser.add_argument("--broker", choices=("redis", "embedded"), default="redis")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="provenance-bench-scaling-"))
    base = root / "base"
    prepare_base(base, args.model, args.bundle, args.data)
    texts = unique_documents(args.docs + 4, args.data, args.corpus)
    warm = write_jsonl(root / "warm.jsonl", texts[:4], prefix="warm")
    dump = write_jsonl(root / "dump.jsonl", texts[4:])
    report: dict = {"benchmark": "pipeline_workers_scaling", "docs": args.docs, "chunk_size": args.chunk_size,
                    "model": args.model, "cpu_count": os.cpu_count(), "broker": args.broker,
                    "workers": "separate processes, --concurrency 1, empty homes fed by the store", "runs": {}}
    redis = None
    try:
        for workers in (1, 2):
            broker = None
            if args.broker == "redis":
                redis = redis or start_redis(root / "redis")
                redis.restart()
                broker = redis.url
            report["runs"][f"{workers}"] = run(base, root, args.model, dump, warm, workers, broker,
                                               args.chunk_size)
            print(json.dumps({"progress": workers, **report["runs"][f"{workers}"]}), flush=True)
    finally:
        if redis is not None:
            redis.stop()
    one, two = report["runs"]["1"]["docs_per_s"], report["runs"]["2"]["docs_per_s"]
    report["scaling_2_vs_1"] = round(two / one, 3)
    report["goal_2_vs_1"] = 1.8
    print(json.dumps(report))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
