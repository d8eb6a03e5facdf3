"""``POST /v1/verify`` throughput with 1 and 2 server processes, against the framework's floor in the same run.

The setting of the issue that reported 80 requests/s: ``provenance serve --workers N`` on loopback, 16 client
*threads* (``http.client`` keep-alive connections, one per thread, in this process), ledger lookup on with the
key's tenant (the default request), detection off, a real API key (rate limit drawn through the database,
one audit row per verification). Texts: as ``bench/api_verify.py`` (200-token passages of ``../shared/corpus``
cut with the configured model's tokenizer, a fifth recorded in the ledger as signed manifests).

Baseline, same app, same processes, same clients, same run: ``GET /healthz`` (a constant; no auth, no
database): what uvicorn + FastAPI + the middleware cost per request on this machine under this load.
``verify_over_floor`` (verify requests/s divided by the floor's) is the figure that travels between machines.
The load average is reported with each measurement: the machine is shared.

    python bench/api_verify_processes.py [--workers 1,2] [--threads 16] [--duration 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_verify import (  # noqa: E402
    DEFAULT_MODEL,
    cpu_seconds,
    free_port,
    percentile,
    prepare_server_home,
    remove_server_home,
    wait_ready,
)

GOALS = {1: 261.0, 2: 500.0}  # requests/s: last round's one-process figure, and the two-process goal


def hammer(port: int, requests: list[tuple[str, str, bytes | None, dict[str, str]]], threads: int,
           seconds: float) -> dict[str, object]:
    """``threads`` threads, each with one keep-alive connection, sending requests back to back."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: dict[str, int] = {}
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def run(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = latencies[index]
        sent = index
        start.wait()
        while time.perf_counter() < deadline[0]:
            method, path, body, headers = requests[sent % len(requests)]
            sent += 1
            began = time.perf_counter()
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - began)
            if response.status != 200:
                with lock:
                    errors[str(response.status)] = errors.get(str(response.status), 0) + 1
        connection.close()

    workers = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    merged = [value for values in latencies for value in values]
    return {"requests": len(merged), "rps": round(len(merged) / elapsed, 1),
            "p50_ms": round(percentile(merged, 0.50) * 1000, 2), "p99_ms": round(percentile(merged, 0.99) * 1000, 2),
            "errors": errors, "load_average_1m": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="comma-separated server process counts")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--model", default=os.environ.get("PROVENANCE_MODEL") or str(DEFAULT_MODEL))
    args = parser.parse_args()

    _settings, services, texts, key = prepare_server_home(args.model, args.texts, args.tokens)
    services.close()
    verify = [("POST", "/v1/verify", json.dumps({"text": text}).encode(),
               {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}) for text in texts]
    floor = [("GET", "/healthz", None, {})]

    runs = []
    for workers in [int(w) for w in args.workers.split(",")]:
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "provenance.cli", "serve", "--port", str(port), "--workers",
                                   str(workers), "--no-access-log", "--log-level", "warning"], cwd=ROOT)
        try:
            wait_ready(port, server)
            hammer(port, verify, args.threads, 2.0)  # warm-up: tokenizer caches, connections, rate-limit lease
            result: dict[str, object] = {"workers": workers, "threads": args.threads}
            for name, requests in (("floor_healthz", floor), ("verify", verify)):
                before = cpu_seconds(server.pid)
                measured = hammer(port, requests, args.threads, args.duration)
                measured["server_cpu_ms_per_request"] = round(
                    (cpu_seconds(server.pid) - before) * 1000 / max(1, int(measured["requests"])), 3)
                result[name] = measured
            result["verify_over_floor"] = round(result["verify"]["rps"] / max(result["floor_healthz"]["rps"], 1e-9), 3)
            result["goal_rps"] = GOALS.get(workers)
            result["goal_met"] = workers in GOALS and result["verify"]["rps"] >= GOALS[workers]
            runs.append(result)
        finally:
            server.terminate()
            server.wait(30)
    by_workers = {run["workers"]: run for run in runs}
    print(json.dumps({
        "benchmark": "api_verify_processes", "endpoint": "POST /v1/verify (ledger on with the key's tenant, no detect)",
        "floor": "GET /healthz (constant), same app and processes", "texts": len(texts),
        "tokens_per_text": args.tokens, "ledger_manifests": len(texts[::5]), "duration_s": args.duration,
        "cpu_count": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()], "runs": runs,
        "two_over_one": round(by_workers[2]["verify"]["rps"] / by_workers[1]["verify"]["rps"], 3)
        if 1 in by_workers and 2 in by_workers else None,
    }, indent=2))


if __name__ == "__main__":
    try:
        main()
    finally:
        remove_server_home()
