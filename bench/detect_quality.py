"""Detection quality with the platform's scorer: grouped CV, leave-one-domain-out, leave-one-generator-out.

Every detector's row (zero-shot statistics, the classifier, the ensemble) is reported beside the anchors
from ../shared/DESIGN.md, which use a 1.5B-parameter gpt2-xl scorer on GPT-2-XL text. Hold-out rows
retrain the whole ensemble without the held-out slice (and without any text sharing a prompt with it).
Statistics are cached in <home>/cache, so a second run only retrains.

Protocol (issue 15): headline figures are leave-one-domain-out and leave-one-generator-out; each split says
whether the ensemble beat the best single statistic *on that split*. The memorisation check judges
``--corpus-paragraphs`` paragraphs of the scorer's own training corpus and as many of its held-out documents
(../shared/models/README.md: md5(document) % 100 == 0) three ways: no guard, the model-free signal only, and
with the training-text index (``provenance model memorisation-index --corpus DIR``).

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/detect_quality.py [--max-texts N]
        [--stacker logit|trees] [--only-cached]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from detect.cache import StatisticsCache, text_key
from detect.classifier import ScoredText
from detect.ensemble import STACKERS, ZERO_SHOT_DETECTORS, AbstainPolicy, TrainedEnsemble, train_ensemble
from detect.evaluation import holdout_table
from detect.memorisation import MemorisationGuard, corpus_paragraphs
from detect.metrics import point_metrics
from detect.onnx_scorer import build_scorer
from detect.scoring import judge_texts
from detect.text import normalize_for_detection
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


def best_single(row: dict) -> tuple[str, float]:
    """The best zero-shot statistic of a hold-out row (the ensemble must beat it on the same split)."""
    name = max((n for n in ZERO_SHOT_DETECTORS if n in row), key=lambda n: row[n]["auroc"])
    return name, row[name]["auroc"]


def summarise(table: dict) -> dict:
    out = {}
    for value, row in table.items():
        if "ensemble" not in row:
            out[value] = row
            continue
        name, auroc = best_single(row)
        out[value] = {"ensemble_auroc": row["ensemble"]["auroc"], "ensemble_tpr_at_1pct": row["ensemble"].get(
            "tpr_at_1pct_fpr"), "fpr_at_threshold": row["ensemble"].get("fpr_at_threshold"),
            "classifier_auroc": row["classifier"]["auroc"], "best_single": name, "best_single_auroc": auroc,
            "ensemble_beats_best_single": row["ensemble"]["auroc"] > auroc,
            "n_test_human": row["n_test_human"], "n_test_machine": row["n_test_machine"]}
    return out


def verdict_shares(verdicts) -> dict:
    counts = {"machine": 0, "human": 0, "uncertain": 0, "abstain": 0}
    for verdict in verdicts:
        counts[verdict.verdict] += 1
    judged = max(len(verdicts), 1)
    return {**counts, "machine_share": round(counts["machine"] / judged, 4),
            "human_share": round(counts["human"] / judged, 4)}


def memorisation_check(scorer, ensemble: TrainedEnsemble, cache, corpus: Path, count: int, home: Path) -> dict:
    """Verdicts on trained-on and held-out corpus paragraphs, without and with the guard."""
    from detect.bundle import Bundle

    bundle = Bundle(ensemble, {"name": "bench"})
    with_index = MemorisationGuard.for_scorer(scorer.lm.path, scorer.lm.weights_sha256, home)
    no_guard = MemorisationGuard(certain_run_tokens=10**9)
    report = {"index": with_index.index is not None}
    for kind, held_out in (("trained_on", False), ("held_out", True)):
        texts = [normalize_for_detection(t) for t in corpus_paragraphs(corpus, held_out=held_out, count=count)]
        report[kind] = {"paragraphs": len(texts)}
        for name, guard in (("no_guard", no_guard), ("model_free_only", MemorisationGuard()),
                            ("with_index", with_index)):
            verdicts = judge_texts(scorer, bundle, texts, cache=cache, guard=guard)
            report[kind][name] = verdict_shares(verdicts)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "detect")
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-texts", type=int, default=None)
    parser.add_argument("--target-fpr", type=float, default=0.01)
    parser.add_argument("--stacker", choices=STACKERS, default="logit")
    parser.add_argument("--baseline-stacker", choices=STACKERS, default=None,
                        help="also compute the hold-out tables with this stacker on the same texts, same run")
    parser.add_argument("--no-memorisation", action="store_true", help="skip the corpus-paragraph check")
    parser.add_argument("--only-cached", action="store_true",
                        help="use only texts whose statistics are already cached (a subset scored earlier)")
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")
    parser.add_argument("--corpus-paragraphs", type=int, default=300)
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"detection data not found at {args.data}; pass --data DIR")
    settings = Settings()
    lm = load_configured_model(settings, args.model)
    scorer = build_scorer(lm, backend=settings.scorer_backend, quantize=settings.scorer_quantize,
                          batch_tokens=settings.detect_batch_tokens, cache_root=settings.home / "cache" / "onnx")
    cache = StatisticsCache(settings.home / "cache" / "perplexity-stats.sqlite")
    files = sorted(args.data.glob("*.jsonl")) if args.data.is_dir() else [args.data]
    data = prepare(files, max_texts=args.max_texts)
    rows = data.rows
    if args.only_cached:
        known = cache.get_many(scorer.identity, [text_key(row.text) for row in rows])
        rows = [row for row in rows if text_key(row.text) in known]
    started = time.perf_counter()
    items: list[ScoredText] = score_rows(scorer, rows, cache)
    scoring_s = time.perf_counter() - started
    policy = AbstainPolicy()
    keep = np.array([policy.reason(item) is None for item in items])
    items = [item for item, k in zip(items, keep, strict=True) if k]
    labels = np.array([row.label for row in rows], dtype=np.int64)[keep]
    groups = np.array([row.group for row in rows])[keep]
    domains = np.array([row.domain for row in rows])[keep]
    generators = np.array([row.generator for row in rows])[keep]

    started = time.perf_counter()
    cv = train_ensemble(items, labels, groups, domains, target_fpr=args.target_fpr, stacker=args.stacker)
    grouped_cv = {name: {k: round(v, 4) for k, v in point_metrics(
        labels, scores, cv.ensemble.thresholds.machine if name == "ensemble" else None).items()}
        for name, scores in cv.oof_scores.items()}
    lodo = holdout_table(items, labels, groups, domains, target_fpr=args.target_fpr, stacker=args.stacker)
    logo = holdout_table(items, labels, groups, generators, target_fpr=args.target_fpr, stacker=args.stacker)
    baseline = {}
    if args.baseline_stacker:
        for name, column in (("leave_one_domain_out", domains), ("leave_one_generator_out", generators)):
            baseline[name] = summarise(holdout_table(items, labels, groups, column, target_fpr=args.target_fpr,
                                                     stacker=args.baseline_stacker))
    memorisation = ({"skipped": True} if args.no_memorisation else
                    memorisation_check(scorer, cv.ensemble, cache, args.corpus, args.corpus_paragraphs,
                                       settings.home) if args.corpus.is_dir() else {"error": "no corpus"})
    report = {
        "benchmark": "detect_quality",
        "scorer": lm.name,
        "scorer_parameters": lm.parameters,
        "scorer_statistics": scorer.identity,
        "stacker": args.stacker,
        "data": {**data.summary(), "texts_evaluated": len(rows)},
        "judged_texts": int(keep.sum()),
        "scoring_seconds_uncached_part": round(scoring_s, 1),
        "training_and_tables_seconds": round(time.perf_counter() - started, 1),
        "grouped_cv": grouped_cv,
        "leave_one_domain_out_summary": summarise(lodo),
        "leave_one_generator_out_summary": summarise(logo),
        "leave_one_domain_out": lodo,
        "leave_one_generator_out": logo,
        "baseline_stacker": args.baseline_stacker,
        "baseline_summaries": baseline,
        "memorisation": memorisation,
        "anchors": ANCHORS,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
