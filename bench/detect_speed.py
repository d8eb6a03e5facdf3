"""Scoring speed of the perplexity detector vs a naive loop, same model, same texts, same run.

Baseline ("naive"): for each text, tokenize it alone and call ``model(**inputs)`` under ``torch.no_grad()``
(full logits, nothing else computed). Ours: ``PerplexityScorer.statistics`` on the whole list: length-bucketed
packed batches, ``inference_mode``, LM head only on scored positions, and *all* statistics (log-likelihood,
ranks, entropy, Fast-DetectGPT, GLTR, burstiness), which the naive loop does not compute at all.

The default scorer is int8 on CPU (``PROVENANCE_SCORER_QUANTIZE=auto``); the report also scores the same
texts with the fp32 scorer (the previous default) in the same run and prints documents/s for both, the
ratio and the load average (other jobs share the machine).

On a GPU (``--device cuda``) it also compares batched bf16 scoring with a bare bf16 forward pass of the
same model on the same padded batches (the issue's GPU reference). Prints one JSON object.

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/detect_speed.py [--texts 300]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

import torch

from detect.onnx_scorer import build_scorer
from detect.perplexity import PerplexityScorer
from detect.text import normalize_for_detection
from provenance.runtime import load_configured_model
from provenance.settings import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def load_texts(data: Path, count: int) -> list[str]:
    texts: list[str] = []
    for path in sorted(data.glob("*.jsonl")) if data.is_dir() else [data]:
        for line in path.read_text(encoding="utf-8").splitlines():
            texts.append(normalize_for_detection(json.loads(line)["text"]))
    step = max(len(texts) // count, 1)
    return texts[::step][:count]


def naive_tokens_per_second(lm, texts: list[str]) -> tuple[float, int]:
    tokens = 0
    started = time.perf_counter()
    with torch.no_grad():
        for text in texts:
            inputs = lm.tokenizer(text, return_tensors="pt").to(lm.device)
            lm.model(**inputs)
            tokens += int(inputs["input_ids"].shape[1])
    return tokens / (time.perf_counter() - started), tokens


def ours_tokens_per_second(scorer: PerplexityScorer, texts: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    stats = scorer.statistics(texts)
    if scorer.device.type == "cuda":
        torch.cuda.synchronize()
    tokens = sum(s.tokens for s in stats)
    return tokens / (time.perf_counter() - started), tokens


def gpu_bare_forward(lm, batch: int, length: int, repeats: int = 5) -> float:
    ids = torch.randint(0, lm.vocab_size, (batch, length), device=lm.device)
    with torch.inference_mode():
        lm.model(input_ids=ids)
        torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(repeats):
            lm.model(input_ids=ids)
        torch.cuda.synchronize()
    return batch * length * repeats / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "detect")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch-tokens", type=int, default=8192)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.data.exists():
        raise SystemExit(f"detection data not found at {args.data}; pass --data FILE_OR_DIR")
    texts = load_texts(args.data, args.texts)
    settings = Settings(device=args.device)
    lm = load_configured_model(settings, args.model)
    scorer = PerplexityScorer(lm, batch_tokens=args.batch_tokens)
    default_lm = copy.copy(lm)
    default_lm.model = copy.deepcopy(lm.model)
    default_scorer = build_scorer(default_lm, quantize=settings.scorer_quantize, batch_tokens=args.batch_tokens)
    load_before = os.getloadavg()
    ours_tps, ours_tokens = ours_tokens_per_second(scorer, texts[:20])  # warm-up
    naive_tps, naive_tokens = naive_tokens_per_second(lm, texts)
    started = time.perf_counter()
    ours_tps, ours_tokens = ours_tokens_per_second(scorer, texts)
    fp32_docs = len(texts) / (time.perf_counter() - started)
    ours_tokens_per_second(default_scorer, texts[:20])  # warm-up
    started = time.perf_counter()
    default_tps, _ = ours_tokens_per_second(default_scorer, texts)
    default_docs = len(texts) / (time.perf_counter() - started)
    report = {
        "benchmark": "detect_speed",
        "model": lm.name,
        "parameters": lm.parameters,
        "device": str(lm.device),
        "dtype": str(lm.dtype),
        "torch_threads": torch.get_num_threads(),
        "texts": len(texts),
        "tokens": ours_tokens,
        "naive_tokens_per_s": round(naive_tps, 1),
        "ours_tokens_per_s": round(ours_tps, 1),
        "speedup_vs_naive": round(ours_tps / naive_tps, 2),
        "ours_computes": "all statistics; naive computes logits only",
        "default_scorer": default_scorer.identity,
        "fp32_docs_per_s": round(fp32_docs, 2),
        "default_docs_per_s": round(default_docs, 2),
        "default_tokens_per_s": round(default_tps, 1),
        "default_vs_fp32": round(default_docs / fp32_docs, 2),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }
    if lm.device.type == "cuda":
        bare = gpu_bare_forward(lm, 64, 512)
        report["gpu_bare_forward_64x512_tokens_per_s"] = round(bare, 1)
        report["ours_vs_bare_forward"] = round(ours_tps / bare, 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
