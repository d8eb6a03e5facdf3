"""Distribution-aligned detection, the quick check (issue 25): does a scorer fine-tuned on GPT-2 text separate it?

DALD (Zeng et al. 2024) fine-tunes the surrogate scorer on outputs of the target model. Here: a float32 copy of the
scorer (the shared weights are float16; AdamW on float16 weights turns them into NaN) is trained for
``--minutes`` on 128-token chunks of every GPT-2 machine text in the *training* half of ``../shared/data/gpt2-output``
(the halves of ``bench/detect_gpt2_output.py``: a hash of the prompt group), then every test-half text is scored by
the tuned copy and the base scorer. Reported: AUROC of the log-likelihood ratio (tuned minus base) and of the base
log-likelihood, overall and per generator slice, against the same test-half humans. Prints JSON.

    OMP_NUM_THREADS=2 python bench/detect_aligned_scorer.py --model ../shared/models/gpt2-corpus-27m [--minutes 14]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from transformers import AutoModelForCausalLM, AutoTokenizer

from bench.detect_gpt2_output import in_test_half
from detect.training import prepare

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def chunks_of(tokenizer, texts: list[str], length: int = 128) -> list[list[int]]:
    chunks = []
    for text in texts:
        ids = tokenizer(text)["input_ids"][: 2 * length]
        chunks += [ids[start: start + length] for start in range(0, len(ids) - 32, length)
                   if len(ids[start: start + length]) == length]
    return chunks


def mean_log_likelihood(model, tokenizer, text: str, max_tokens: int = 384) -> float:
    ids = torch.tensor([tokenizer(text)["input_ids"][:max_tokens]])
    with torch.inference_mode():
        return -float(model(input_ids=ids, labels=ids).loss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=SHARED / "models" / "gpt2-corpus-27m")
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "gpt2-output")
    parser.add_argument("--minutes", type=float, default=14.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--test-humans", type=int, default=300)
    parser.add_argument("--test-per-generator", type=int, default=150)
    args = parser.parse_args()
    torch.manual_seed(0)
    files = [path for path in sorted(args.data.glob("*.jsonl")) if "short" not in path.name]
    rows = prepare(files).rows
    train_texts = [row.text for row in rows if row.label == 1 and not in_test_half(row.group)]
    held = [row for row in rows if in_test_half(row.group)]
    random.Random(0).shuffle(held)
    by_generator: dict[str, list] = defaultdict(list)
    for row in held:
        by_generator[row.generator].append(row)
    test = [row for generator, members in by_generator.items()
            for row in members[: args.test_humans if generator == "human" else args.test_per_generator]]
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    base = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32).eval()
    tuned = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32)
    chunks = chunks_of(tokenizer, train_texts)
    random.Random(1).shuffle(chunks)
    optimizer = torch.optim.AdamW(tuned.parameters(), lr=args.lr, weight_decay=0.0)
    tuned.train()
    started, tokens = time.perf_counter(), 0
    while time.perf_counter() - started < args.minutes * 60:
        for start in range(0, len(chunks), 16):
            batch = torch.tensor(chunks[start: start + 16])
            tuned(input_ids=batch, labels=batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            tokens += batch.numel()
            if time.perf_counter() - started >= args.minutes * 60:
                break
    tuned.eval()
    labels = np.array([row.label for row in test])
    generators = np.array([row.generator for row in test])
    base_ll = np.array([mean_log_likelihood(base, tokenizer, row.text) for row in test])
    ratio = np.array([mean_log_likelihood(tuned, tokenizer, row.text) for row in test]) - base_ll
    report = {"benchmark": "detect_aligned_scorer", "train_texts": len(train_texts), "train_chunks": len(chunks),
              "train_tokens": tokens, "epochs": round(tokens / max(128 * len(chunks), 1), 2),
              "minutes": args.minutes, "test_texts": len(test),
              "auroc": {"llr_tuned_vs_base": round(roc_auc_score(labels, ratio), 4),
                        "base_log_likelihood": round(roc_auc_score(labels, base_ll), 4)}, "slices": {}}
    for generator in sorted(set(generators[labels == 1].tolist())):
        keep = (generators == generator) | (labels == 0)
        report["slices"][generator] = {"llr_tuned_vs_base": round(roc_auc_score(labels[keep], ratio[keep]), 4),
                                       "base_log_likelihood": round(roc_auc_score(labels[keep], base_ll[keep]), 4)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
