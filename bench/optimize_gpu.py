"""GPU side of issue 9, one short run on a lent GPU: scorer tokens/s (torch fp32 vs torch bf16 vs ONNX Runtime
CUDA, same texts, same batch budget) and, because 2 shared CPU cores cannot train in the time available, the
distillation student and a LoRA domain adapter (written to --out so the CPU benches can measure them).

    python bench/optimize_gpu.py --teacher DIR --corpus DIR --domain DIR --texts FILE.jsonl --out DIR

ONNX Runtime CUDA needs the onnxruntime-gpu package; where only the CPU build is installed, the report says
so (``ort_cuda: unavailable``) instead of timing the CPU provider under a GPU label. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from detect.perplexity import PerplexityScorer
from generator import ModelRequest, load_model


def tokens_per_second(scorer: PerplexityScorer, texts: list[str], repeats: int = 3) -> float:
    scorer.statistics(texts[:32])  # warm-up: kernels, allocator, ORT graph
    best = 0.0
    for _ in range(repeats):
        if scorer.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        stats = scorer.statistics(texts)
        if scorer.device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, sum(s.tokens for s in stats) / (time.perf_counter() - started))
    return best


def scorer_speed(teacher: Path, texts: list[str], device: str, batch_tokens: int) -> dict[str, object]:
    import onnxruntime

    from detect.onnx_scorer import build_scorer

    report: dict[str, object] = {"texts": len(texts), "batch_tokens": batch_tokens,
                                 "ort_providers": onnxruntime.get_available_providers()}
    fp32 = load_model(str(teacher), ModelRequest(device=device, dtype="float32", offline=True))
    report["torch_fp32_tokens_per_s"] = round(tokens_per_second(PerplexityScorer(fp32, batch_tokens=batch_tokens),
                                                                texts), 1)
    if device == "cuda":
        bf16 = load_model(str(teacher), ModelRequest(device=device, dtype="bfloat16", offline=True))
        report["torch_bf16_tokens_per_s"] = round(tokens_per_second(
            PerplexityScorer(bf16, batch_tokens=batch_tokens), texts), 1)
    if device == "cuda" and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        report["ort_cuda"] = "unavailable: only the CPU build of onnxruntime is installed on this machine"
    else:
        with tempfile.TemporaryDirectory() as cache:
            onnx = build_scorer(fp32, backend="onnx", batch_tokens=batch_tokens, cache_root=Path(cache))
            report["ort_providers_used"] = onnx.providers
            report["ort_fp32_tokens_per_s"] = round(tokens_per_second(onnx, texts), 1)
    if "torch_bf16_tokens_per_s" in report:
        report["bf16_vs_fp32"] = round(report["torch_bf16_tokens_per_s"] / report["torch_fp32_tokens_per_s"], 2)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--domain", type=Path, required=True)
    parser.add_argument("--texts", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--distill-minutes", type=float, default=4.0)
    parser.add_argument("--adapt-minutes", type=float, default=1.5)
    parser.add_argument("--max-steps", type=int, default=None, help="dry runs: cap every training")
    parser.add_argument("--batch-tokens", type=int, default=8192)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    texts = [json.loads(line)["text"] for line in args.texts.read_text().splitlines()]
    report: dict[str, object] = {"benchmark": "optimize_gpu", "device": args.device,
                                 "gpu": torch.cuda.get_device_name() if args.device == "cuda" else None,
                                 "torch": torch.__version__}
    report["scorer_speed"] = scorer_speed(args.teacher, texts, args.device, args.batch_tokens)
    print(json.dumps(report), flush=True)

    from generator.bootstrap.presets import get_preset
    from generator.distill import distill_model
    from generator.lora import adapt_generator

    teacher = load_model(str(args.teacher), ModelRequest(device=args.device, dtype="float32", offline=True))
    preset = get_preset("tiny")
    if args.device == "cuda":  # a GPU wants bigger steps than 2 CPU cores
        preset = dataclasses.replace(preset, batch_size=256, learning_rate=3e-3)
    if args.max_steps:
        preset = dataclasses.replace(preset, eval_tokens=2048)
    student_dir = args.out / "student"
    card = distill_model(teacher, args.corpus, student_dir, preset, max_minutes=args.distill_minutes,
                         max_steps=args.max_steps).card
    student = load_model(str(student_dir), ModelRequest(device="cpu", dtype="float32", offline=True))
    student.model.half().save_pretrained(student_dir)  # fp16 on disk: fits the device's 16 MiB file limit
    report["distill"] = {k: card[k] for k in ("parameters", "steps", "tokens_seen", "heldout_perplexity",
                                              "train_seconds", "teacher")}
    base = load_model(str(args.teacher), ModelRequest(device=args.device, dtype="float32", offline=True))
    adapter = adapt_generator(base, args.domain, args.out / "adapter-xsum", rank=8, max_minutes=args.adapt_minutes,
                              max_steps=args.max_steps, batch_size=16,
                              eval_tokens=2048 if args.max_steps else 32_768).card
    report["adapt"] = {k: adapter[k] for k in ("rank", "trainable_parameters", "steps", "tokens_seen",
                                               "domain_perplexity_before", "domain_perplexity_after",
                                               "train_seconds")}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
