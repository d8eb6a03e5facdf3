"""Issue 9 on the CPU: every scorer optimisation beside the torch fp32 baseline, in one run, same texts.

Variants: ``torch-fp32`` (baseline: ``PerplexityScorer`` as shipped), ``onnx-fp32`` (ONNX Runtime), ``torch-int8``
(torch dynamic int8, Conv1D -> Linear), ``onnx-int8`` (ORT dynamic int8 graph + int8 LM head), and, with
``--student DIR`` (a ``provenance model distill`` output), ``student-torch-fp32`` and ``student-onnx-int8``.

For each: scoring tokens/s (all 17 statistics, packed batches, after a warm-up), the largest absolute
difference of any statistic from the baseline, held-out corpus perplexity (the scorer's own per-token
log-likelihoods on held-out paragraphs, so ORT variants are measured by the same code), and detection AUROC
from grouped 5-fold CV of the full ensemble on a stratified sample of the detection data (same rows, same
folds for every variant), plus the zero-shot Fast-DetectGPT AUROC (no classifier to dilute the change).
Prints one JSON object.

    python bench/optimize_scoring.py --model ../shared/models/gpt2-corpus-27m [--student DIR] [--texts 400]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from detect.ensemble import AbstainPolicy, train_ensemble
from detect.metrics import point_metrics
from detect.onnx_scorer import build_scorer
from detect.perplexity import STATISTICS
from detect.training import prepare, score_rows
from generator import ModelRequest, load_model
from generator.bootstrap.corpus import read_corpus

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def heldout_paragraphs(corpus: Path, tokenizer, max_tokens: int) -> list[str]:
    picked, total = [], 0
    for paragraph in read_corpus(corpus).heldout:
        picked.append(paragraph)
        total += len(tokenizer(paragraph)["input_ids"])
        if total >= max_tokens:
            break
    return picked


def run_variant(name: str, model_dir: str, backend: str, quantize: str, rows, paragraphs, cache: Path,
                batch_tokens: int) -> dict:
    lm = load_model(model_dir, ModelRequest(device="cpu", offline=True))
    started = time.perf_counter()
    scorer = build_scorer(lm, backend=backend, quantize=quantize, batch_tokens=batch_tokens, cache_root=cache)
    setup_s = time.perf_counter() - started
    scorer.statistics([row.text for row in rows[:16]])  # warm-up
    started = time.perf_counter()
    items = score_rows(scorer, rows, None)
    seconds = time.perf_counter() - started
    tokens = sum(item.stats.tokens for item in items)
    ll = np.concatenate([s.log_likelihood for s in scorer.token_scores(paragraphs)]).astype(np.float64)
    return {"name": name, "items": items, "tokens_per_s": tokens / seconds, "tokens": tokens,
            "seconds": seconds, "setup_s": setup_s, "identity": scorer.identity,
            "heldout_perplexity": math.exp(-ll.mean()), "heldout_tokens": int(ll.size),
            "parameters": lm.parameters}


def detection_auroc(items, labels, groups, domains, keep) -> dict[str, float]:
    kept = [item for item, k in zip(items, keep, strict=True) if k]
    cv = train_ensemble(kept, labels[keep], groups[keep], domains[keep], target_fpr=0.01)
    return {name: round(point_metrics(labels[keep], cv.oof_scores[name])["auroc"], 4)
            for name in ("ensemble", "fast_detectgpt", "log_rank")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(SHARED / "models" / "gpt2-corpus-27m"))
    parser.add_argument("--student", default=None)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "detect")
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument("--texts", type=int, default=400)
    parser.add_argument("--heldout-tokens", type=int, default=16_384)
    parser.add_argument("--batch-tokens", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--variants", default=None, help="comma-separated subset of variant names")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_at_start = os.getloadavg()[0]
    files = sorted(args.data.glob("*.jsonl")) if args.data.is_dir() else [args.data]
    data = prepare(files, max_texts=args.texts)
    rows = data.rows
    labels, groups, domains = data.labels, data.groups, data.domains
    tokenizer = load_model(args.model, ModelRequest(device="cpu", offline=True)).tokenizer
    paragraphs = heldout_paragraphs(args.corpus, tokenizer, args.heldout_tokens)
    plan = [("torch-fp32", args.model, "torch", "none"), ("onnx-fp32", args.model, "onnx", "none"),
            ("torch-int8", args.model, "torch", "int8"), ("onnx-int8", args.model, "onnx", "int8")]
    if args.student:
        plan += [("student-torch-fp32", args.student, "torch", "none"),
                 ("student-onnx-int8", args.student, "onnx", "int8")]
    if args.variants:
        wanted = set(args.variants.split(",")) | {"torch-fp32"}
        plan = [p for p in plan if p[0] in wanted]
    results = []
    with tempfile.TemporaryDirectory() as cache:
        for name, model_dir, backend, quantize in plan:
            results.append(run_variant(name, model_dir, backend, quantize, rows, paragraphs, Path(cache),
                                       args.batch_tokens))
            print(f"# {name}: {results[-1]['tokens_per_s']:.1f} tokens/s", flush=True)
    base = results[0]
    policy = AbstainPolicy()
    keep = np.array([policy.reason(item) is None for item in base["items"]])
    base_auroc = detection_auroc(base["items"], labels, groups, domains, keep)
    report = {"benchmark": "optimize_scoring", "baseline": "torch-fp32", "model": args.model,
              "torch_threads": torch.get_num_threads(), "cpu_cores": os.cpu_count(),
              "load_average_at_start_and_end": [round(load_at_start, 2)], "texts": len(rows),
              "judged_texts": int(keep.sum()),
              "heldout_paragraphs": len(paragraphs), "variants": {}}
    for result in results:
        auroc = base_auroc if result is base else detection_auroc(result["items"], labels, groups, domains, keep)
        diffs = [abs(getattr(a.stats, s) - getattr(b.stats, s)) for a, b in zip(result["items"], base["items"],
                                                                                strict=True)
                 for s in STATISTICS if np.isfinite(getattr(a.stats, s)) and np.isfinite(getattr(b.stats, s))]
        report["variants"][result["name"]] = {
            "parameters": result["parameters"],
            "tokens_per_s": round(result["tokens_per_s"], 1),
            "speedup_vs_torch_fp32": round(result["tokens_per_s"] / base["tokens_per_s"], 2),
            "setup_seconds": round(result["setup_s"], 1),
            "max_abs_statistic_diff_vs_torch_fp32": float(f"{max(diffs):.3g}"),
            "heldout_perplexity": round(result["heldout_perplexity"], 3),
            "heldout_perplexity_change_pct": round(100 * (result["heldout_perplexity"] /
                                                         base["heldout_perplexity"] - 1), 2),
            "auroc": auroc,
            "auroc_change": {k: round(auroc[k] - base_auroc[k], 4) for k in auroc},
            "identity_differs_from_torch_fp32": result["identity"] != base["identity"],
        }
    report["load_average_at_start_and_end"].append(round(os.getloadavg()[0], 2))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
