"""Cost of watermarking during generation: plain vs our processor (unigram, lefthash, selfhash) vs transformers' own
``WatermarkLogitsProcessor`` (lefthash), same model, prompts, seed and length, batch 1 and 16.

Every configuration runs in one process, interleaved repeat by repeat so slow drifts of a shared machine hit all
of them alike. Fixed length (min_new_tokens = max_new_tokens) so every run makes the same number of tokens.
End-to-end ratios use the fastest repeat (the least disturbed by other load; medians are reported too). Because
a few percent is below the noise of a shared CPU, one extra instrumented run per configuration also measures the
time spent inside the processor itself (synchronising the GPU around each call), reported as a share of the
plain generation time: the overhead that does not depend on how busy the machine was. Prints one JSON object.

    python bench/watermark_generation.py                      # CPU, ../shared/models/gpt2-corpus-27m
    python bench/watermark_generation.py --device cuda --gpt2-shape --batches 1,16,32 --max-new-tokens 128
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from benchlib import PROMPTS, gpt2_small_shape
from transformers import LogitsProcessor
from transformers import WatermarkLogitsProcessor as HFWatermarkLogitsProcessor

from generator import LoadedModel, ModelRequest, SamplingConfig, generate, load_model
from watermark import WatermarkKey, WatermarkLogitsProcessor

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT.parent / "shared" / "models" / "gpt2-corpus-27m"


class TimedProcessor(LogitsProcessor):
    """Wraps a processor and accumulates the wall time of its calls."""

    def __init__(self, inner: LogitsProcessor) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if scores.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        out = self.inner(input_ids, scores)
        if scores.device.type == "cuda":
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - started
        self.calls += 1
        return out


def run_once(lm: LoadedModel, prompts: list[str], config: SamplingConfig, processors: list) -> tuple[float, int]:
    if lm.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    results = generate(lm, prompts, config, logits_processors=processors, batch_size=len(prompts))
    if lm.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, sum(r.tokens for r in results)


def bench_model(lm: LoadedModel, batches: list[int], max_new_tokens: int, repeats: int) -> dict:
    tokenizer = lm.tokenizer
    configs = {
        "plain": lambda: [],
        "ours_unigram": lambda: [WatermarkLogitsProcessor(WatermarkKey.generate(tokenizer, scheme="unigram"),
                                                          tokenizer)],
        "ours_lefthash": lambda: [WatermarkLogitsProcessor(WatermarkKey.generate(tokenizer, scheme="lefthash"),
                                                           tokenizer)],
        "ours_selfhash": lambda: [WatermarkLogitsProcessor(WatermarkKey.generate(tokenizer, scheme="selfhash"),
                                                           tokenizer)],
        "transformers_lefthash": lambda: [HFWatermarkLogitsProcessor(vocab_size=lm.vocab_size, device=str(lm.device))],
    }
    sampling = SamplingConfig(max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, seed=0)
    rows: dict[str, dict] = {}
    for batch in batches:
        prompts = (PROMPTS * (batch // len(PROMPTS) + 1))[:batch]
        processors = {name: make() for name, make in configs.items()}
        for name in configs:  # warm-up: caches, allocator, kernels
            generate(lm, prompts, SamplingConfig(max_new_tokens=4, min_new_tokens=4, seed=0),
                     logits_processors=processors[name], batch_size=batch)
        times: dict[str, list[float]] = {name: [] for name in configs}
        tokens: dict[str, int] = {}
        for repeat in range(repeats):
            for name in configs:
                seconds, made = run_once(lm, prompts, sampling, processors[name])
                times[name].append(seconds)
                tokens[name] = made
            print(f"batch {batch} repeat {repeat + 1}/{repeats}: "
                  + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in configs), file=sys.stderr, flush=True)
        inside: dict[str, dict[str, float]] = {}
        for name in configs:
            if not processors[name]:
                continue
            timed = TimedProcessor(processors[name][0])
            run_once(lm, prompts, sampling, [timed])
            inside[name] = {"ms_per_step": round(1000 * timed.seconds / max(timed.calls, 1), 4),
                            "share_of_plain_generation": round(timed.seconds / min(times["plain"]), 4)}
        fastest, median = min(times["plain"]), statistics.median(times["plain"])
        rows[f"batch{batch}"] = {
            name: {"seconds_min": round(min(times[name]), 4),
                   "seconds_median": round(statistics.median(times[name]), 4),
                   "tokens_per_s": round(tokens[name] / min(times[name]), 1),
                   "ratio_vs_plain": round(min(times[name]) / fastest, 4),
                   "ratio_vs_plain_median": round(statistics.median(times[name]) / median, 4),
                   **({"inside_processor": inside[name]} if name in inside else {})}
            for name in configs
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="model path or name")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--batches", default="1,16", help="comma-separated batch sizes")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU intra-op threads (1: on a shared 2-core box, 2 threads stall each other)")
    parser.add_argument("--gpt2-shape", action="store_true", help="also a random-weight GPT-2-small-shaped model")
    args = parser.parse_args()
    if args.device == "cpu" and args.threads:
        torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]

    reference = load_model(args.model, ModelRequest(device=args.device, offline=True))
    models = [reference] + ([gpt2_small_shape(reference, args.device)] if args.gpt2_shape else [])
    results = {}
    for lm in models:
        results[lm.name] = {"parameters": lm.parameters, "vocab_size": lm.vocab_size, "dtype": str(lm.dtype),
                            **bench_model(lm, batches, args.max_new_tokens, args.repeats)}
    watermarked = ("ours_unigram", "ours_lefthash", "ours_selfhash", "transformers_lefthash")
    summary_ratios = {f"{name}|batch{b}|{config}": results[name][f"batch{b}"][config]["ratio_vs_plain"]
                      for name in results for b in batches for config in watermarked}
    processor_share = {
        f"{name}|batch{b}|{config}": results[name][f"batch{b}"][config]["inside_processor"]["share_of_plain_generation"]
        for name in results for b in batches for config in watermarked}
    print(json.dumps({
        "benchmark": "watermark_generation",
        "device": torch.cuda.get_device_name(0) if args.device == "cuda" else f"cpu ({platform.machine()})",
        "torch_threads": torch.get_num_threads(),
        "max_new_tokens": args.max_new_tokens,
        "repeats": args.repeats,
        "goal": "ours <= 1.05x plain",
        "ratios_vs_plain": summary_ratios,
        "processor_time_share_of_plain": processor_share,
        "results": results,
    }))


if __name__ == "__main__":
    main()
