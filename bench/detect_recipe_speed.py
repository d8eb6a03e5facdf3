"""Scan-side cost of a detector recipe: documents/s of judging with the shipped stacker vs the previous one.

A scan worker scores every document once with the scorer (statistics and pooled states come from the same
forward pass) and then applies the bundle. This bench trains two bundles on the same cached sample, one per
stacker (``--stacker``, default the shipped one, and ``--baseline``, default ``logit``, issue 15's default), and
times ``detect.scoring.judge_texts`` on the same texts with no statistics cache (as a worker meets new documents),
one torch thread (as each worker process runs), alternating the order over ``--repeats`` rounds. Prints JSON with
documents/s for both, the ratio and the load average.

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/detect_recipe_speed.py [--texts 150]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from detect.bundle import Bundle
from detect.ensemble import DEFAULT_STACKER
from detect.memorisation import MemorisationGuard
from detect.scoring import judge_texts
from detect.training import prepare, train_bundle
from provenance.detection import DetectionService
from provenance.settings import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+",
                        default=[SHARED / "data" / "detect", SHARED / "data" / "gpt2-output"])
    parser.add_argument("--train-texts", type=int, default=400)
    parser.add_argument("--texts", type=int, default=150)
    parser.add_argument("--stacker", default=DEFAULT_STACKER)
    parser.add_argument("--baseline", default="logit")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    files = [f for path in args.data for f in (sorted(path.glob("*.jsonl")) if path.is_dir() else [path])
             if "short" not in f.name]
    service = DetectionService(Settings(), for_training=True)
    data = prepare(files, max_texts=args.train_texts, seed=0)
    bundles: dict[str, Bundle] = {name: train_bundle(name, service.scorer, data, cache=service.cache, stacker=name)
                                  for name in (args.stacker, args.baseline)}
    trained = {row.text for row in data.rows}
    texts = [row.text for row in prepare(files, max_texts=args.train_texts + 4 * args.texts, seed=1).rows
             if row.text not in trained][: args.texts]
    guard = MemorisationGuard()
    judge_texts(service.scorer, bundles[args.baseline], texts[:8], cache=None, guard=guard)  # warm-up
    seconds = {name: 0.0 for name in bundles}
    for round_ in range(args.repeats):
        order = list(bundles) if round_ % 2 == 0 else list(bundles)[::-1]
        for name in order:
            started = time.perf_counter()
            judge_texts(service.scorer, bundles[name], texts, cache=None, guard=guard)
            seconds[name] += time.perf_counter() - started
    per_s = {name: round(args.repeats * len(texts) / value, 2) for name, value in seconds.items()}
    print(json.dumps({"benchmark": "detect_recipe_speed", "texts": len(texts), "repeats": args.repeats,
                      "torch_threads": 1, "documents_per_s": per_s,
                      "ratio_vs_baseline": round(per_s[args.stacker] / per_s[args.baseline], 3),
                      "baseline": args.baseline, "stacker": args.stacker, "scorer": service.scorer.identity,
                      "load_average": os.getloadavg()}))


if __name__ == "__main__":
    main()
