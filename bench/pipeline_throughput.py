"""End-to-end scanning throughput: the queue (embedded SQLite broker with 1 and 2 workers, Redis with 1 and 2)
against scoring the same documents in-process without any queue, same documents, same run.

Each configuration starts from a copy of one prepared data directory (detector bundle, watermark key) with an
empty database and an empty statistics cache, so nothing is reused between runs. Workers are started and
warmed up (a 4-document job) before the clock starts; the clock then covers submission and scoring of all
documents. The in-process baseline is one process with one torch thread, like one worker process: the
queue's cost is worker(1) against in-process; scaling is worker(2) against worker(1).

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/pipeline_throughput.py --docs 10000
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


def prepare_base(base: Path, model: str, bundle: Path | None, data: Path) -> None:
    """Bundle (imported: copied, signed with this home's key and audited, as `provenance detect import-bundle`
    does, so workers that verify signatures accept it and `artifacts publish` can ship it; or trained on 400
    labelled texts) and the active watermark key."""
    from provenance.keystore import KeyStore
    from provenance.runtime import load_configured_tokenizer
    from provenance.settings import Settings

    base.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=base, model=model)
    target = base / "detectors" / "default"
    if bundle is not None and (bundle / "card.json").is_file():
        from provenance.bundle_import import import_bundle

        shutil.rmtree(target, ignore_errors=True)  # a re-used base: import refuses to overwrite
        import_bundle(settings, bundle, "default", actor="bench")
    else:
        from detect.training import prepare
        from provenance.detection import DetectionService

        DetectionService(settings).train("default", prepare(sorted(data.glob("*.jsonl")), max_texts=400, seed=0))
    tokenizer, _ = load_configured_tokenizer(settings)
    KeyStore(base).active_or_create(tokenizer)


def score_in_this_process(home: Path, model: str, dump: Path, chunk: int) -> float:
    """The baseline's body: the worker's scorer, called directly on the same chunks, no queue, no database."""
    import torch

    from provenance.pipeline.document_scoring import DocumentScorer

    torch.set_num_threads(1)
    texts = [json.loads(line)["text"] for line in dump.read_text(encoding="utf-8").splitlines()]
    scorer = DocumentScorer(settings_for(env_for(home, model)))
    scorer.warm_up()
    started = time.perf_counter()
    for start in range(0, len(texts), chunk):
        scorer.score(texts[start:start + chunk])
    return len(texts) / (time.perf_counter() - started)


def in_process(home: Path, model: str, dump: Path, chunk: int) -> float:
    """Run the baseline in a fresh process with exactly a worker's environment (one torch and one BLAS
    thread), so the comparison differs only by the queue."""
    done = subprocess.run([sys.executable, __file__, "--baseline-only", str(home), "--model", model,
                           "--chunk-size", str(chunk), "--dump", str(dump)], env=env_for(home, model),
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def through_queue(home: Path, model: str, dump: Path, warm: Path, workers: int, broker: str | None,
                  chunk: int) -> dict:
    from provenance.pipeline.submission import submit_paths

    env = env_for(home, model, broker, PROVENANCE_SCAN_CHUNK_SIZE=str(chunk))
    os.environ.update({k: v for k, v in env.items() if k.startswith("PROVENANCE_")})
    from provenance.settings import get_settings

    get_settings.cache_clear()
    settings = settings_for(env)
    worker = WorkerProcess(env, home / "worker.log", concurrency=workers, loglevel="WARNING")
    try:
        worker.wait_ready()
        wait_job(settings, submit_paths(settings, [warm]))  # every pool process has loaded its models
        started = time.perf_counter()
        job_id = submit_paths(settings, [dump])
        summary = wait_job(settings, job_id, poll=1.0)  # poll like `scan --wait`: light on the cores
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
    return {"docs_per_s": round(summary["scored"] / elapsed, 2), "seconds": round(elapsed, 1),
            "scored": summary["scored"], "chunks": summary["chunks_total"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    add_input_arguments(parser)
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--configs", default="inprocess,embedded-1,embedded-2,redis-1,redis-2")
    parser.add_argument("--baseline-only", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dump", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_only is not None:
        print(score_in_this_process(args.baseline_only, args.model, args.dump, args.chunk_size))
        return
    root = Path(tempfile.mkdtemp(prefix="provenance-bench-pipeline-"))
    base = root / "base"
    prepare_base(base, args.model, args.bundle, args.data)
    texts = unique_documents(args.docs + 4, args.data, args.corpus)
    warm, texts = texts[:4], texts[4:]
    dump = write_jsonl(root / "dump.jsonl", texts)
    warm_dump = write_jsonl(root / "warm.jsonl", warm, prefix="warm")
    report: dict = {"benchmark": "pipeline_throughput", "docs": len(texts), "chunk_size": args.chunk_size,
                    "model": args.model, "cpu_count": os.cpu_count(), "torch_threads_per_process": 1, "runs": {}}
    redis = None
    try:
        for config in args.configs.split(","):
            home = fresh_home(base, config)
            if config == "inprocess":
                report["runs"][config] = {"docs_per_s": round(in_process(home, args.model, dump,
                                                                         args.chunk_size), 2)}
            else:
                kind, workers = config.rsplit("-", 1)
                broker = None
                if kind == "redis":
                    try:
                        redis = redis or start_redis(root / "redis")
                    except FileNotFoundError as exc:
                        report["runs"][config] = {"skipped": str(exc)}
                        continue
                    redis.restart()  # an empty broker for each run
                    broker = redis.url
                report["runs"][config] = through_queue(home, args.model, dump, warm_dump, int(workers), broker,
                                                       args.chunk_size)
            print(json.dumps({"progress": config, **report["runs"][config]}), flush=True)
    finally:
        if redis is not None:
            redis.stop()
    runs = report["runs"]
    base_rate = runs.get("inprocess", {}).get("docs_per_s")
    for config, run in runs.items():
        if base_rate and "docs_per_s" in run and config != "inprocess":
            run["vs_inprocess"] = round(run["docs_per_s"] / base_rate, 3)
    for kind in ("embedded", "redis"):
        one, two = runs.get(f"{kind}-1", {}), runs.get(f"{kind}-2", {})
        if "docs_per_s" in one and "docs_per_s" in two:
            report[f"{kind}_scaling_2_vs_1_workers"] = round(two["docs_per_s"] / one["docs_per_s"], 3)
    if base_rate and "docs_per_s" in runs.get("embedded-1", {}):
        report["queue_overhead_embedded_1_worker"] = round(1 - runs["embedded-1"]["docs_per_s"] / base_rate, 3)
    print(json.dumps(report))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
