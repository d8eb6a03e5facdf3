"""Toxicity scoring throughput of a bundle with a blocking stage vs main's code path, same run, interleaved.

Baseline: the same bundle with its blocking stage removed (``model.blocking = None``), which runs exactly the
scoring code path of bundles trained by main's recipe (the first stage is main's recipe, unchanged). Measured:
the scan path (``blocking=False``: what a scan worker runs through ``ToxicitySignal``)
and the generation/CLI path (``blocking=True``: parse + second stage). Runs are interleaved ``--rounds``
times so load changes on the shared cores hit every arm alike; medians of docs per CPU-second are reported
with the load average.

With ``--baseline-bundle`` (a bundle trained by main's code, e.g. ``make demo`` in a clone of main), main's
own bundle is the baseline instead, on both paths: ``main_scan_path`` and ``main_generation_path``. Use it when
the first stage itself changed (issue 29's third round adds stance and group-context columns to it).

    python bench/toxicity_blocking_speed.py --bundle ~/.provenance/detectors/toxicity [--texts 3000]
        [--baseline-bundle /tmp/main-home/detectors/toxicity]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import time
from pathlib import Path

from detect.toxicity import load_toxicity_bundle, read_toxicity_data

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-bundle", type=Path, default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    data = read_toxicity_data(sorted((SHARED / "data" / "toxicity").glob("*.jsonl")))
    step = max(len(data.rows) // args.texts, 1)
    texts = [row.text for row in data.rows[::step][:args.texts]]
    model = load_toxicity_bundle(args.bundle).model
    baseline = copy.copy(model)
    baseline.blocking = None
    arms = {"baseline_main_path": (baseline, True), "new_scan_path": (model, False),
            "new_generation_path": (model, True)}
    if args.baseline_bundle:
        main_model = load_toxicity_bundle(args.baseline_bundle).model
        arms = {"main_scan_path": (main_model, False), "new_scan_path": (model, False),
                "main_generation_path": (main_model, True), "new_generation_path": (model, True)}
        main_model.score(texts[:50])
    model.score(texts[:50])
    timings: dict[str, list[float]] = {name: [] for name in arms}
    wall: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(args.rounds):
        for name, (m, blocking) in arms.items():
            t0, c0 = time.perf_counter(), time.process_time()
            m.score(texts, blocking=blocking)
            timings[name].append(len(texts) / (time.process_time() - c0))
            wall[name].append(len(texts) / (time.perf_counter() - t0))
    print(json.dumps({"benchmark": "toxicity_blocking_speed", "texts": len(texts), "rounds": args.rounds,
                      "docs_per_cpu_s_median": {k: round(statistics.median(v), 1) for k, v in timings.items()},
                      "docs_per_s_median": {k: round(statistics.median(v), 1) for k, v in wall.items()},
                      "docs_per_cpu_s_all": {k: [round(x) for x in v] for k, v in timings.items()},
                      "load": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}))


if __name__ == "__main__":
    main()
