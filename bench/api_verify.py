"""Verification API throughput: ``POST /v1/verify`` over loopback HTTP vs the same work in-process.

Texts: 200-token passages (``../shared/corpus`` books cut at exactly 200 tokens of the configured model's
tokenizer; synthetic sentences if the corpus is missing); a fifth of them are recorded in the ledger as signed
manifests, so the mix has exact matches, near-duplicate queries and misses. The server is ``provenance serve``
(uvicorn + uvloop + httptools, access log off) with N workers on the same machine as the load generator, a
raw-asyncio HTTP/1.1 keep-alive client (C concurrent connections, one process) that sends verifications
without ``detect`` (no model weights) for a fixed time, in two modes: ``watermark_only`` (``"provenance":
false``: the detector alone behind HTTP) and ``full`` (watermark + ledger lookup, the default request), with
a real API key (the request bucket lives in the database, drawn through per-process leases; one audit row per
verification, written in batches).

The machine is shared, so besides wall-clock requests/s the script reports CPU seconds per request (server
processes and load generator, from the kernel's accounting) and the requests/s those imply on two otherwise idle
cores (``cpu_bound_rps_on_2_idle_cores`` = 2 / (server + client CPU per request)): much less distorted by other jobs
than wall-clock rates. ``cpu_share_during_baseline`` < 1 means the in-process baseline was starved too.

Baselines, same texts, same run, no HTTP: ``detector`` = the watermark detector alone (``detect_record``, what
``provenance watermark detect`` does per text; compared with ``watermark_only``), ``in_process`` = the ledger
lookup too (compared with ``full``). ``http_vs_same_work_in_process`` divides requests/s,
``cpu_ratio_http_vs_in_process`` CPU per text: the HTTP overhead.

    python bench/api_verify.py [--workers 1,2] [--connections 32] [--duration 10] [--modes watermark_only,full]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_MODEL = ROOT.parent / "shared" / "models" / "gpt2-corpus-27m"
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"


def passages(tokenizer, count: int, tokens: int) -> list[str]:  # noqa: ANN001
    """``count`` passages of exactly ``tokens`` tokens (decoded back to text)."""
    sources = sorted(DEFAULT_CORPUS.glob("*.txt")) if DEFAULT_CORPUS.is_dir() else []
    if sources:
        words = " ".join(p.read_text(encoding="utf-8", errors="replace") for p in sources[:3]).split()
    else:
        from testkit.texts import synthetic_paragraphs

        words = " ".join(synthetic_paragraphs(4000)).split()
    texts, start = [], 5000 if len(words) > 200_000 else 0
    while len(texts) < count:
        ids = tokenizer(" ".join(words[start:start + 260]))["input_ids"][:tokens]
        texts.append(tokenizer.decode(ids).strip())
        start += 260
    return texts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process(services, texts: list[str], seconds: float) -> dict[str, float]:  # noqa: ANN001
    """Requests/s of the detector alone and of the endpoint's whole watermark-only path, without HTTP."""
    from provenance.api.lookup import lookup_many
    from provenance.watermark_records import detect_record

    detector = services.watermark.detector
    results = {}
    for name, work in (("detector", lambda t: detect_record(detector, t, False)),
                       ("in_process", lambda t: (services.watermark.check(t), lookup_many(services.engine,
                                                                                           services.public_key,
                                                                                           [t])))):
        done, started, cpu = 0, time.perf_counter(), own_cpu()
        while time.perf_counter() - started < seconds:
            work(texts[done % len(texts)])
            done += 1
        results[name] = round(done / (time.perf_counter() - started), 1)
        results[f"{name}_cpu_ms_per_text"] = round((own_cpu() - cpu) * 1000 / done, 3)
    return results


async def load(port: int, bodies: list[bytes], key: str, connections: int, seconds: float) -> dict[str, object]:
    """C keep-alive connections, each sending requests back to back until the time is up."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    headers = (f"POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
               "Content-Type: application/json\r\n").encode()
    requests = [headers + f"Content-Length: {len(body)}\r\n\r\n".encode() + body for body in bodies]

    async def connection(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sent = index
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(requests[sent % len(requests)])
                sent += 1
                head = await reader.readuntil(b"\r\n\r\n")
                status = head[9:12].decode()
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if status != "200":
                    errors[status] = errors.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(i) for i in range(connections)))
    elapsed = time.perf_counter() - started
    return {"requests": len(latencies), "rps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 2), "errors": errors}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the uvicorn workers)."""
    import psutil

    total = 0.0
    parent = psutil.Process(pid)
    for process in [parent, *parent.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def own_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 180) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("server did not become ready")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_server_home(model: str, count: int, tokens: int):  # noqa: ANN201 - (settings, services, texts, key)
    """A fresh data home for a verify benchmark: the model's tokenizer and watermark keys loaded, ``count`` passages
    of ``tokens`` tokens, every fifth one recorded in the ledger as a signed manifest, and a verify-scope API key
    with no practical rate limit. Sets the PROVENANCE_* environment the server processes inherit."""
    home = Path(tempfile.mkdtemp(prefix="provenance-bench-api-"))
    os.environ.update(PROVENANCE_HOME=str(home), PROVENANCE_MODEL=model, HF_HUB_OFFLINE="1",
                      TOKENIZERS_PARALLELISM="false", PROVENANCE_HUB_OFFLINE="true")
    from generator.stamping import build_manifest, sign_manifest
    from provenance.api.services import ApiServices
    from provenance.apikeys import create_api_key
    from provenance.settings import Settings
    from provenance.signing import load_or_create_signing_key
    from provenance.store.engine import session_scope
    from provenance.store.ledger import record_manifest

    settings = Settings()
    services = ApiServices(settings)
    services.load_watermark()
    if services.startup_error:
        raise SystemExit(f"cannot load the tokenizer: {services.startup_error}")
    texts = passages(services.watermark.tokenizer, count, tokens)
    signing = load_or_create_signing_key(home)
    with session_scope(settings.resolved_database_url) as session:
        for index, text in enumerate(texts[::5]):
            body = build_manifest(text=text, prompt=f"p{index}", model={"name": "bench"}, decoding={},
                                  watermark=None, requester="bench")
            record_manifest(session, sign_manifest(body, signing))
    _key_id, key = create_api_key(settings.resolved_database_url, name="bench", scopes="verify",
                                  requests_per_minute=1_000_000_000)
    return settings, services, texts, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="comma-separated uvicorn worker counts to measure")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--texts", type=int, default=100)
    parser.add_argument("--modes", default="watermark_only,full",
                        help="watermark_only (provenance=false) and/or full (watermark + ledger lookup)")
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--model", default=os.environ.get("PROVENANCE_MODEL") or str(DEFAULT_MODEL))
    args = parser.parse_args()

    _settings, services, texts, key = prepare_server_home(args.model, args.texts, args.tokens)
    started_cpu, started_wall = own_cpu(), time.perf_counter()
    baseline = in_process(services, texts, min(args.duration, 5.0))
    baseline["cpu_share_during_baseline"] = round((own_cpu() - started_cpu) / (time.perf_counter() - started_wall), 2)
    services.close()
    modes = {"full": [json.dumps({"text": text}).encode() for text in texts],
             "watermark_only": [json.dumps({"text": text, "provenance": False}).encode() for text in texts]}

    runs = []
    for workers in [int(w) for w in args.workers.split(",")]:
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "provenance.cli", "serve", "--port", str(port), "--workers",
                                   str(workers), "--no-access-log", "--log-level", "warning"], cwd=ROOT)
        try:
            wait_ready(port, server)
            for mode in args.modes.split(","):
                bodies = modes[mode]
                asyncio.run(load(port, bodies, key, args.connections, 2.0))  # warm-up
                server_before, client_before = cpu_seconds(server.pid), own_cpu()
                result = asyncio.run(load(port, bodies, key, args.connections, args.duration))
                server_ms = (cpu_seconds(server.pid) - server_before) * 1000 / max(1, result["requests"])
                client_ms = (own_cpu() - client_before) * 1000 / max(1, result["requests"])
                same = baseline["in_process" if mode == "full" else "detector"]
                same_cpu = baseline["in_process_cpu_ms_per_text" if mode == "full" else "detector_cpu_ms_per_text"]
                result.update(mode=mode, workers=workers, server_cpu_ms_per_request=round(server_ms, 3),
                              client_cpu_ms_per_request=round(client_ms, 3),
                              cpu_bound_rps_on_2_idle_cores=round(2000 / (server_ms + client_ms), 1),
                              http_vs_same_work_in_process=round(result["rps"] / same, 3),
                              cpu_ratio_http_vs_in_process=round(server_ms / same_cpu, 3))
                runs.append(result)
        finally:
            server.terminate()
            server.wait(30)

    best = max([run for run in runs if run["mode"] == "watermark_only"] or runs, key=lambda run: run["rps"])
    print(json.dumps({
        "benchmark": "api_verify", "endpoint": "POST /v1/verify (no detect)",
        "texts": len(texts), "tokens_per_text": args.tokens, "ledger_manifests": len(texts[::5]),
        "connections": args.connections, "duration_s": args.duration, "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2), "python": platform.python_version(),
        "baseline_in_process": baseline, "runs": runs,
        "goal_rps": 500, "best_watermark_only_rps": best["rps"], "best_workers": best["workers"],
        "goal_met": best["rps"] >= 500,
    }, indent=2))


def remove_server_home() -> None:
    """Delete the temporary home ``prepare_server_home`` made (and only that one)."""
    import shutil

    home = os.environ.get("PROVENANCE_HOME", "")
    if Path(home).name.startswith("provenance-bench-api-"):
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        remove_server_home()
