"""Detection throughput: our model-free detector vs transformers' ``WatermarkDetector`` on the same token ids.

1,000 documents of 200 tokens (human text from ../shared/data/detect, tokenised with the model's tokenizer;
random ids if the data is missing). Ours: native lefthash and selfhash, one document at a time (``detect_ids``)
and batched (``detect_ids_batch``), plus ``hf-lefthash`` (transformers' own green lists, cold cache: a fresh
detector). Theirs: ``WatermarkDetector(model_config, device, WatermarkingConfig(lefthash))`` called on the
(1000, 200) id matrix, with and without n-gram de-duplication. For hf-lefthash the green counts of both sides
are compared token for token, so the speed-up is for the same answer. Prints one JSON object.

    python bench/watermark_detection.py [--device cuda] [--docs 1000] [--tokens 200]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig, AutoTokenizer, WatermarkingConfig
from transformers import WatermarkDetector as HFWatermarkDetector

from watermark import WatermarkDetector, WatermarkKey

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT.parent / "shared" / "models" / "gpt2-corpus-27m"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "detect"


def human_documents(tokenizer, data_dir: Path, docs: int, tokens: int, seed: int) -> tuple[np.ndarray, str]:
    """``docs`` x ``tokens`` ids cut from human texts (no special tokens inside), or random ids."""
    special = set(tokenizer.all_special_ids)
    rows: list[list[int]] = []
    if data_dir.is_dir():
        texts = sorted({json.loads(line)["text"] for path in sorted(data_dir.glob("*.jsonl"))
                        for line in path.open(encoding="utf-8") if '"human"' in line})
        stream: list[int] = []
        for encoding in tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False):
            stream.extend(i for i in encoding.ids if i not in special)
            while len(stream) >= tokens and len(rows) < docs:
                rows.append(stream[:tokens])
                stream = stream[tokens:]
            if len(rows) >= docs:
                break
    if len(rows) == docs:
        return np.asarray(rows, dtype=np.int64), f"human text from {data_dir}"
    rng = np.random.default_rng(seed)
    low = max(special) + 1 if special else 0
    return rng.integers(low, len(tokenizer), size=(docs, tokens)), "random ids (shared data missing)"


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="model path: its tokenizer and config only")
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--device", default="cpu", help="device for transformers' detector (ours is numpy)")
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    config = AutoConfig.from_pretrained(args.model)
    ids, source = human_documents(tokenizer, Path(args.data), args.docs, args.tokens, seed=0)
    docs = list(ids)
    results: dict[str, dict] = {}

    def record(name: str, seconds: float) -> None:
        results[name] = {"seconds": round(seconds, 4), "docs_per_s": round(len(docs) / seconds, 1)}

    for scheme in ("lefthash", "selfhash"):
        key = WatermarkKey.generate(tokenizer, scheme=scheme)
        detector = WatermarkDetector(tokenizer, [key])
        detector.detect_ids_batch(docs[:10])  # warm-up (imports, first allocation)
        record(f"ours_{scheme}_batch", timed(lambda d=detector: d.detect_ids_batch(docs))[0])
        record(f"ours_{scheme}_one_by_one", timed(lambda d=detector: [d.detect_ids(x, details=False)
                                                                       for x in docs])[0])

    hf_key = WatermarkKey.for_transformers(tokenizer, vocab_size=config.vocab_size)
    cold = WatermarkDetector(tokenizer, [hf_key])
    seconds, ours_hf = timed(lambda: cold.detect_ids_batch(docs))
    record("ours_hf_lefthash_batch_cold_cache", seconds)
    record("ours_hf_lefthash_batch_warm_cache", timed(lambda: cold.detect_ids_batch(docs))[0])

    watermarking = WatermarkingConfig(seeding_scheme="lefthash")
    tensor = torch.as_tensor(ids, device=args.device)
    theirs = {}
    for dedupe in (True, False):
        hf_detector = HFWatermarkDetector(model_config=config, device=args.device, watermarking_config=watermarking,
                                          ignore_repeated_ngrams=dedupe)
        seconds, out = timed(lambda d=hf_detector: d(tensor, z_threshold=4.0, return_dict=True))
        name = f"transformers_lefthash{'_dedupe' if dedupe else ''}"
        record(name, seconds)
        theirs[dedupe] = out

    agree = None
    if args.device == "cpu":  # transformers' green lists are device-specific; ours reproduce the CPU ones
        ours_green = np.array([r.num_green for r in ours_hf])
        ours_scored = np.array([r.num_tokens_scored for r in ours_hf])
        agree = bool(np.array_equal(ours_green, theirs[True].num_green_tokens.astype(int))
                     and np.array_equal(ours_scored, theirs[True].num_tokens_scored.astype(int)))
    baseline = results["transformers_lefthash_dedupe"]["docs_per_s"]
    speedups = {name: round(row["docs_per_s"] / baseline, 1) for name, row in results.items()
                if name.startswith("ours")}
    print(json.dumps({
        "benchmark": "watermark_detection",
        "machine": f"{platform.machine()}, torch threads {torch.get_num_threads()}",
        "transformers_device": args.device,
        "docs": len(docs),
        "tokens_per_doc": args.tokens,
        "vocab_size": config.vocab_size,
        "source": source,
        "goal": "ours >= 200x transformers",
        "speedup_vs_transformers_dedupe": speedups,
        "hf_lefthash_counts_identical_to_transformers": agree,
        "results": results,
    }))


if __name__ == "__main__":
    main()
