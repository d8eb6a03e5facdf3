"""The platform's own generations from neutral prompts: the benign text the generation screen must not block.

Why: the blocking threshold (``PROVENANCE_TOXICITY_BLOCK_FPR``) promises a false-positive rate on what the
generator actually writes, not only on the non-toxic rows of the labelled sources. Prompts are the first
6-10 words of the human texts in ``../shared/data/detect`` (news summaries and Wikipedia paragraphs: neutral
by construction); each prompt gets one sampled continuation of ``--max-new-tokens`` tokens from the
configured model (default ../shared/models/gpt2-corpus-27m). The human texts are split *before* generating
by a hash of the text into two disjoint halves:

* ``calibration``: generations the shipped bundle may see (benign negatives for training and for choosing
  the blocking threshold);
* ``evaluation``: generations from the other half of the prompts, never seen by any training or threshold
  choice; ``bench/toxicity_screen.py`` measures the withheld rate on them.

Output is cached as JSONL (``{"id", "split", "prompt", "text", "label": "non_toxic", "source"}``) under
``bench/results/`` (git-ignored); an existing cache is reused unless ``--force``. Prints one JSON summary.

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/toxicity_generations.py [--per-split 1200]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_OUT = RESULTS / "toxicity_benign_generations.jsonl"
SOURCE = "platform_generations"


def human_texts(detect_dir: Path) -> list[str]:
    """Unique human texts of the detection data (several files share the same human side)."""
    seen: dict[str, None] = {}
    for path in sorted(detect_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if record.get("label") == "human" and isinstance(record.get("text"), str):
                    seen.setdefault(record["text"], None)
    return list(seen)


def split_of(text: str) -> str:
    """Disjoint halves by a hash of the whole human text (decided before anything is generated)."""
    return "calibration" if int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "evaluation"


def prompts_for(texts: list[str], per_split: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    by_split: dict[str, list[str]] = {"calibration": [], "evaluation": []}
    for text in texts:
        words = text.split()
        if len(words) >= 12:
            by_split[split_of(text)].append(" ".join(words[:rng.randint(6, 10)]))
    picked: list[tuple[str, str]] = []
    for split, prompts in by_split.items():
        rng.shuffle(prompts)
        picked.extend((split, prompt) for prompt in prompts[:per_split])
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detect-data", type=Path, default=SHARED / "data" / "detect")
    parser.add_argument("--model", default=os.environ.get("PROVENANCE_MODEL",
                                                          str(SHARED / "models" / "gpt2-corpus-27m")))
    parser.add_argument("--per-split", type=int, default=1200)
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    if args.out.is_file() and not args.force:
        rows = [json.loads(line) for line in args.out.read_text(encoding="utf-8").splitlines() if line.strip()]
        print(json.dumps({"benchmark": "toxicity_generations", "cached": str(args.out), "rows": len(rows)}))
        return
    import torch

    from generator import SamplingConfig
    from generator.generation import generate
    from generator.loading import ModelRequest, load_model

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    texts = human_texts(args.detect_data)
    if not texts:
        raise SystemExit(f"no human texts under {args.detect_data}; pass --detect-data DIR")
    plan = prompts_for(texts, args.per_split, args.seed)
    lm = load_model(args.model, ModelRequest(name=args.model, device="cpu", dtype="float32"))
    started, cpu_started = time.perf_counter(), time.process_time()
    sampling = SamplingConfig(max_new_tokens=args.max_new_tokens, seed=args.seed)
    generations = generate(lm, [prompt for _, prompt in plan], sampling, batch_size=args.batch_size)
    seconds = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tokens = 0
    with args.out.open("w", encoding="utf-8") as handle:
        for number, ((split, prompt), generation) in enumerate(zip(plan, generations, strict=True)):
            tokens += generation.tokens
            handle.write(json.dumps({"id": f"gen-{number}", "split": split, "prompt": prompt,
                                     "text": generation.text, "label": "non_toxic", "source": SOURCE}) + "\n")
    print(json.dumps({"benchmark": "toxicity_generations", "rows": len(plan), "model": lm.name,
                      "tokens": tokens, "seconds": round(seconds, 1),
                      "tokens_per_s": round(tokens / seconds, 1),
                      "cpu_seconds": round(time.process_time() - cpu_started, 1),
                      "load_average_1min": round(os.getloadavg()[0], 2), "out": str(args.out)}))


if __name__ == "__main__":
    main()
