"""Generation speed of the model layer: KV cache on/off, batch 1 vs 16, fp32 vs int8 (+ perplexity change).

Runs every configuration in one process on the same prompts, seed and length, so the ratios compare like
with like. Models: the platform's resolved default (or --model) and a GPT-2-small-shaped model (real
`gpt2` weights when cached, else random weights of that shape: speed only). On a GPU (--device cuda)
the dtypes are float32 / float16 / bfloat16 instead of int8. Prints one JSON object.

    python bench/generation_speed.py --eval-corpus ../shared/corpus
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from benchlib import PROMPTS, gpt2_small_shape

from generator import LoadedModel, ModelRequest, SamplingConfig, generate, load_model
from generator.bootstrap.corpus import read_corpus
from generator.perplexity import text_perplexity
from provenance.runtime import model_request
from provenance.settings import Settings


def timed_generate(lm: LoadedModel, prompts: list[str], config: SamplingConfig, repeats: int) -> dict[str, float]:
    generate(lm, prompts[:2], SamplingConfig(max_new_tokens=4, min_new_tokens=4, seed=0))  # warm-up
    times = []
    tokens = 0
    for _ in range(repeats):
        if lm.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        results = generate(lm, prompts, config, batch_size=len(prompts))
        if lm.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
        tokens = sum(r.tokens for r in results)
    median = statistics.median(times)
    return {"seconds": round(median, 4), "tokens": tokens, "tokens_per_s": round(tokens / median, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or path (default: the platform's resolved model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--eval-corpus", type=Path, help="corpus dir: perplexity on its held-out paragraphs")
    parser.add_argument("--eval-tokens", type=int, default=20_000)
    parser.add_argument("--skip-gpt2-shape", action="store_true")
    args = parser.parse_args()

    settings = Settings()
    base_request = model_request(settings, args.model)
    on_gpu = args.device != "cpu"
    variants = ["float32", "float16", "bfloat16"] if on_gpu else ["float32", "int8"]
    reference = load_model(base_request.name, base_request) if base_request.name else None
    if reference is None:
        from generator import resolve_model

        reference = resolve_model(base_request)
    spec = str(reference.path) if reference.path else reference.name
    heldout = read_corpus(args.eval_corpus).heldout if args.eval_corpus else None

    results, perplexity = [], {}
    models = [("default", None)] + ([] if args.skip_gpt2_shape else [("gpt2-shape", "gpt2")])
    for label, _ in models:
        for variant in variants:
            quantize = "int8" if variant == "int8" else "none"
            dtype = "float32" if variant == "int8" else variant
            if label == "default":
                lm = load_model(spec, ModelRequest(device=args.device, dtype=dtype, quantize=quantize, offline=True))
            else:
                lm = gpt2_small_shape(reference, args.device, dtype, quantize)
            if heldout is not None and label == "default":
                perplexity[variant] = round(text_perplexity(lm, heldout, max_tokens=args.eval_tokens)["perplexity"], 3)
            for batch in (1, 16):
                for kv_cache in (True, False):
                    config = SamplingConfig(max_new_tokens=args.max_new_tokens, min_new_tokens=args.max_new_tokens,
                                            seed=0, use_cache=kv_cache)
                    row = timed_generate(lm, PROMPTS[:batch], config, args.repeats)
                    row.update(model=label, name=lm.name, parameters=lm.parameters, variant=variant, batch=batch,
                               kv_cache=kv_cache)
                    results.append(row)
                    print(json.dumps(row), flush=True)
            del lm

    def speed(model: str, variant: str, batch: int, kv: bool) -> float:
        return next(r["tokens_per_s"] for r in results if (r["model"], r["variant"], r["batch"], r["kv_cache"])
                    == (model, variant, batch, kv))

    ratios = {}
    for label, _ in models:
        ratios[label] = {
            "kv_cache_on_vs_off_batch1": round(speed(label, "float32", 1, True) / speed(label, "float32", 1, False), 2),
            "kv_cache_on_vs_off_batch16": round(speed(label, "float32", 16, True) / speed(label, "float32", 16, False),
                                                2),
            "batch16_vs_batch1_kv": round(speed(label, "float32", 16, True) / speed(label, "float32", 1, True), 2),
        }
        for variant in variants[1:]:
            for batch in (1, 16):
                ratios[label][f"{variant}_vs_float32_batch{batch}_kv"] = round(
                    speed(label, variant, batch, True) / speed(label, "float32", batch, True), 2)
    summary = {
        "benchmark": "generation_speed",
        "device": args.device if not on_gpu else torch.cuda.get_device_name(0),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "max_new_tokens": args.max_new_tokens,
        "reference_model": {"name": reference.name, "source": reference.source, "parameters": reference.parameters},
        "ratios": ratios,
        "heldout_perplexity": perplexity,
        "results": results,
    }
    if "int8" in perplexity:
        summary["int8_perplexity_change_pct"] = round(100 * (perplexity["int8"] / perplexity["float32"] - 1), 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
