"""Detection quality with the platform's scorer: grouped CV, leave-one-domain-out, leave-one-generator-out.

Every detector's row (zero-shot statistics, the classifier, the ensemble) is reported beside the anchors
from ../shared/DESIGN.md, which use a 1.5B-parameter gpt2-xl scorer on GPT-2-XL text. Hold-out rows
retrain the whole ensemble without the held-out slice (and without any text sharing a prompt with it).
Statistics are cached in <home>/cache, so a second run only retrains.

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/detect_quality.py [--max-texts N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from detect.cache import StatisticsCache
from detect.ensemble import AbstainPolicy, train_ensemble
from detect.evaluation import holdout_table
from detect.metrics import point_metrics
from detect.perplexity import PerplexityScorer
from detect.training import prepare, score_rows
from provenance.runtime import load_configured_model
from provenance.settings import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ANCHORS = {
    "scorer": "gpt2-xl (1.5B), white-box, GPT-2-XL text; AUROC (TPR at 1% FPR)",
    "fast_detectgpt": {"xsum": "0.993 (0.88)", "squad": "0.999 (0.98)", "writing": "0.998 (0.98)"},
    "log_likelihood": {"xsum": 0.864, "squad": 0.908, "writing": 0.966},
    "log_rank": {"xsum": 0.892, "squad": 0.945, "writing": 0.978},
    "entropy": "~0.58",
    "openai_tfidf_baseline_accuracy": "74-93%",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "detect")
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-texts", type=int, default=None)
    parser.add_argument("--target-fpr", type=float, default=0.01)
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"detection data not found at {args.data}; pass --data DIR")
    settings = Settings()
    lm = load_configured_model(settings, args.model)
    scorer = PerplexityScorer(lm, batch_tokens=settings.detect_batch_tokens)
    cache = StatisticsCache(settings.home / "cache" / "perplexity-stats.sqlite")
    files = sorted(args.data.glob("*.jsonl")) if args.data.is_dir() else [args.data]
    data = prepare(files, max_texts=args.max_texts)
    started = time.perf_counter()
    items = score_rows(scorer, data.rows, cache)
    scoring_s = time.perf_counter() - started
    policy = AbstainPolicy()
    keep = np.array([policy.reason(item) is None for item in items])
    items = [item for item, k in zip(items, keep, strict=True) if k]
    labels, groups = data.labels[keep], data.groups[keep]
    domains, generators = data.domains[keep], data.generators[keep]

    started = time.perf_counter()
    cv = train_ensemble(items, labels, groups, domains, target_fpr=args.target_fpr)
    grouped_cv = {name: {k: round(v, 4) for k, v in point_metrics(
        labels, scores, cv.ensemble.thresholds.machine if name == "ensemble" else None).items()}
        for name, scores in cv.oof_scores.items()}
    lodo = holdout_table(items, labels, groups, domains, target_fpr=args.target_fpr)
    logo = holdout_table(items, labels, groups, generators, target_fpr=args.target_fpr)
    report = {
        "benchmark": "detect_quality",
        "scorer": lm.name,
        "scorer_parameters": lm.parameters,
        "data": data.summary(),
        "judged_texts": int(keep.sum()),
        "scoring_seconds_uncached_part": round(scoring_s, 1),
        "training_and_tables_seconds": round(time.perf_counter() - started, 1),
        "grouped_cv": grouped_cv,
        "leave_one_domain_out": lodo,
        "leave_one_generator_out": logo,
        "anchors": ANCHORS,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
