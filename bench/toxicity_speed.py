"""Toxicity scoring speed (docs/s) vs the perplexity detector on the same machine, in the same run.

Ours: ``ToxicityModel.score`` (normalisation, hashed n-grams, classifier and category heads, notes) on
``--texts`` texts from the shared toxicity data, one process. Baseline ("perplexity detector"): the
machine-text detector's ``PerplexityScorer.statistics`` on ``--baseline-texts`` of the same texts with the
configured scorer LM (``--model``, default PROVENANCE_MODEL, e.g. ../shared/models/gpt2-corpus-27m): the
per-document cost of the detector toxicity runs beside in the scanning ensemble. The toxicity model is
trained in-run on a small sample (or loaded with ``--bundle DIR``). Prints one JSON object with wall-clock
docs/s and docs per CPU-second of the process (the machine's cores are shared; the 1-minute load average is
reported beside them).

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/toxicity_speed.py [--texts 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from detect.toxicity import load_toxicity_bundle, read_toxicity_data, train_toxicity_bundle

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GOAL_DOCS_PER_S = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "toxicity")
    parser.add_argument("--bundle", type=Path, default=None, help="Score with this toxicity bundle directory.")
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--baseline-texts", type=int, default=200)
    parser.add_argument("--model", default=None, help="Scorer LM for the perplexity baseline.")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    files = sorted(args.data.glob("*.jsonl")) if args.data.is_dir() else [args.data]
    if not files:
        raise SystemExit(f"toxicity data not found at {args.data}; pass --data FILE_OR_DIR")
    data = read_toxicity_data(files)
    step = max(len(data.rows) // args.texts, 1)
    texts = [row.text for row in data.rows[::step][:args.texts]]
    if args.bundle is not None:
        model = load_toxicity_bundle(args.bundle).model
    else:
        sample = read_toxicity_data(files, max_per_source=1500, seed=1)
        model = train_toxicity_bundle(sample, name="bench", folds=2, cross_source=False).model
    model.score(texts[:50])  # warm-up
    started, cpu_started = time.perf_counter(), time.process_time()
    model.score(texts)
    ours = len(texts) / (time.perf_counter() - started)
    ours_cpu = len(texts) / (time.process_time() - cpu_started)

    import torch

    from detect.perplexity import PerplexityScorer
    from provenance.runtime import load_configured_model
    from provenance.settings import Settings

    if args.threads:
        torch.set_num_threads(args.threads)
    lm = load_configured_model(Settings(device="cpu"), args.model)
    scorer = PerplexityScorer(lm)
    baseline_texts = texts[:args.baseline_texts]
    scorer.statistics(baseline_texts[:10])  # warm-up
    started, cpu_started = time.perf_counter(), time.process_time()
    scorer.statistics(baseline_texts)
    baseline = len(baseline_texts) / (time.perf_counter() - started)
    baseline_cpu = len(baseline_texts) / (time.process_time() - cpu_started)
    print(json.dumps({
        "benchmark": "toxicity_speed",
        "texts": len(texts),
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "ours_docs_per_s": round(ours, 1),
        "baseline": f"perplexity detector statistics, scorer {lm.name} ({lm.parameters:,} parameters, cpu, "
                    f"{torch.get_num_threads()} threads)",
        "baseline_texts": len(baseline_texts),
        "baseline_docs_per_s": round(baseline, 1),
        "speedup_vs_baseline": round(ours / baseline, 1),
        # Per CPU-second of this process (all its threads): comparable when other jobs share the cores.
        "ours_docs_per_cpu_s": round(ours_cpu, 1),
        "baseline_docs_per_cpu_s": round(baseline_cpu, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "goal_docs_per_s": GOAL_DOCS_PER_S,
        "goal_met": ours >= GOAL_DOCS_PER_S,
        "goal_met_per_cpu_s": ours_cpu >= GOAL_DOCS_PER_S,
    }))


if __name__ == "__main__":
    main()
