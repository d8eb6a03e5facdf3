"""CPU per ``POST /v1/verify`` in process (ASGI, no HTTP server), so the figure survives a loaded machine.

The default request (watermark + ledger lookup with the key's tenant, no detect) and the framework's floor
(``GET /healthz``) through the same app, same process, same run; CPU from ``time.process_time`` (this process:
the route, auth, rate limit, audit writer thread, JSON). ``--code`` runs another checkout's ``provenance``
(e.g. an export of main: ``git archive BASE | tar -x -C /tmp/base``) with this checkout's texts, so a change
to the request path is compared against its baseline in the same session.

``--profile N`` also runs the verify requests once more under cProfile and prints the N functions with the
most own time (to stderr), which is how the request path's costs were found.

    python bench/api_verify_cpu.py [--code PATH] [--requests 300] [--profile 25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", default=str(ROOT), help="the checkout whose provenance package is measured")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions of a profiled pass")
    args = parser.parse_args()
    sys.path.insert(0, args.code)
    sys.path.insert(1, str(ROOT / "bench"))
    home = Path(tempfile.mkdtemp(prefix="provenance-bench-api-"))
    from api_verify import DEFAULT_MODEL, passages

    sys.path.insert(0, args.code)  # api_verify put this checkout first: the measured code goes before it

    os.environ.update(PROVENANCE_HOME=str(home), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                      PROVENANCE_HUB_OFFLINE="true")
    os.environ.setdefault("PROVENANCE_MODEL", str(DEFAULT_MODEL))
    import httpx

    import provenance
    from generator.stamping import build_manifest, sign_manifest
    from provenance.api import create_app
    from provenance.api.services import ApiServices
    from provenance.apikeys import create_api_key
    from provenance.settings import Settings
    from provenance.signing import load_or_create_signing_key
    from provenance.store.engine import session_scope
    from provenance.store.ledger import record_manifest

    if not Path(provenance.__file__).resolve().is_relative_to(Path(args.code).resolve()):
        raise SystemExit(f"provenance was imported from {provenance.__file__}, not from {args.code}")
    settings = Settings()
    services = ApiServices(settings)
    services.load_watermark()
    texts = passages(services.watermark.tokenizer, 100, 200)
    services.close()
    signing = load_or_create_signing_key(home)
    with session_scope(settings.resolved_database_url) as session:
        for index, text in enumerate(texts[::5]):
            record_manifest(session, sign_manifest(build_manifest(
                text=text, prompt=f"p{index}", model={"name": "bench"}, decoding={}, watermark=None,
                requester="bench"), signing))
    _key_id, key = create_api_key(settings.resolved_database_url, name="bench", scopes="verify",
                                  requests_per_minute=10**9)
    app = create_app(settings)

    async def run() -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            headers = {"Authorization": f"Bearer {key}"}
            for index in range(30):  # warm-up
                await client.post("/v1/verify", headers=headers, json={"text": texts[index % len(texts)]})
            for name in ("floor_healthz", "verify"):
                cpu, wall = time.process_time(), time.perf_counter()
                for index in range(args.requests):
                    response = await (client.get("/healthz") if name == "floor_healthz" else client.post(
                        "/v1/verify", headers=headers, json={"text": texts[index % len(texts)]}))
                    assert response.status_code == 200, response.text
                out[name] = {"cpu_ms_per_request": round((time.process_time() - cpu) * 1000 / args.requests, 3),
                             "wall_ms_per_request": round((time.perf_counter() - wall) * 1000 / args.requests, 3)}
            if args.profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                for index in range(args.requests):
                    await client.post("/v1/verify", headers=headers, json={"text": texts[index % len(texts)]})
                profiler.disable()
                if os.environ.get("PROVENANCE_BENCH_PROFILE_DUMP"):
                    profiler.dump_stats(os.environ["PROVENANCE_BENCH_PROFILE_DUMP"])
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(args.profile)
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(args.profile * 2)
        return out

    try:
        result = asyncio.run(run())
    finally:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps({"benchmark": "api_verify_cpu", "code": args.code, "requests": args.requests, **result,
                      "verify_cpu_over_floor_cpu": round(result["verify"]["cpu_ms_per_request"]
                                                         / result["floor_healthz"]["cpu_ms_per_request"], 1),
                      "load_average_1m": round(os.getloadavg()[0], 2)}, indent=2))


if __name__ == "__main__":
    main()
