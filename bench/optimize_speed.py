"""Scorer speed only, robust to a shared machine: variants interleaved round by round, ratios per round.

``bench/optimize_scoring.py`` times each variant once, one after another, so a neighbour's job starting
mid-run skews its ratios. Here every round scores the same texts with every variant back to back, the ratio
to ``torch-fp32`` is taken inside the round, and the median over rounds is reported (plus best tokens/s).
Prints one JSON object.

    python bench/optimize_speed.py --model ../shared/models/gpt2-corpus-27m [--student DIR] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from detect.onnx_scorer import build_scorer
from generator import ModelRequest, load_model

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SHARED / "models" / "gpt2-corpus-27m"))
    parser.add_argument("--student", default=None)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "detect")
    parser.add_argument("--texts", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from detect_speed import load_texts  # bench/ sibling: the same text sample as detect_speed

    texts = load_texts(args.data, args.texts)
    plan = [("torch-fp32", args.model, "torch", "none"), ("onnx-fp32", args.model, "onnx", "none"),
            ("torch-int8", args.model, "torch", "int8"), ("onnx-int8", args.model, "onnx", "int8")]
    if args.student:
        plan += [("student-torch-fp32", args.student, "torch", "none"),
                 ("student-onnx-int8", args.student, "onnx", "int8")]
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as cache:
        scorers = {}
        for name, model_dir, backend, quantize in plan:
            lm = load_model(model_dir, ModelRequest(device="cpu", offline=True))
            scorers[name] = build_scorer(lm, backend=backend, quantize=quantize, cache_root=Path(cache))
            scorers[name].statistics(texts[:8])  # warm-up
        rates: dict[str, list[float]] = {name: [] for name in scorers}
        for _ in range(args.rounds):
            for name, scorer in scorers.items():
                started = time.perf_counter()
                tokens = sum(s.tokens for s in scorer.statistics(texts))
                rates[name].append(tokens / (time.perf_counter() - started))
    base = rates["torch-fp32"]
    report = {
        "benchmark": "optimize_speed", "baseline": "torch-fp32", "texts": len(texts), "rounds": args.rounds,
        "tokens_per_text_set": tokens, "torch_threads": torch.get_num_threads(),
        "load_average_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "variants": {name: {"median_tokens_per_s": round(statistics.median(r), 1),
                            "best_tokens_per_s": round(max(r), 1),
                            "median_ratio_vs_torch_fp32": round(statistics.median(
                                [x / b for x, b in zip(r, base, strict=True)]), 2)}
                     for name, r in rates.items()},
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
