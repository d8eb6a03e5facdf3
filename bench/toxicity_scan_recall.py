"""Scan (flag) quality of ``p_toxic`` per labelled source: AUROC and recall at the 5%-FPR scan threshold, for
first-stage recipes side by side in one run (issue 29, fourth round: why Civil Comments lost scan recall).

Splits (decided before any change of this round):
* labelled rows ``sha256("toxicity-eval-v1:" + text) % 5 == 0`` are TEST; a ``--max-per-source`` stratified
  sample of the rest is TRAIN (forum/tweet benign hold-out buckets never train), as in the other benches;
* ``--split dev`` (ablations): TRAIN is halved again, ``sha256("toxicity-scan-dev-v1:" + text) % 4 == 0`` is
  DEV (scored), the rest fits. TEST is not read. ``--split test``: fit on TRAIN, score TEST.
Per recipe: out-of-fold scores (3 folds) on the fitted rows set the scan threshold exactly as training does
(``threshold_at_fpr``: FPR <= 5% pooled and in every labelled source up to its sampling error), and by the
strict rule of b787ce2 and the third round (every source at <= 5% exactly; each source's own threshold is
reported); the recipe is refitted on all its rows and scores the evaluation rows through the scan path.
Per source: AUROC (toxic vs non-toxic;
Civil Comments has only toxic rows, so its AUROC is against every non-toxic evaluation row), recall and FPR at
the threshold. Optionally (``--loso``) leave-one-source-out AUROC of Davidson (toxic vs not: the stand-in for
conversational abuse) and Civil Comments (against the other sources' non-toxic evaluation rows).

Recipes: ``base`` (b787ce2, main before the third round: no cases, no stance, no group context; C = 1
as there), ``main_s29`` (the third round's recipe, C = 1), ``shipped`` (this code's defaults), and
ablations named by what they change. Compare ``base``/``main_s29`` at the strict rule (their threshold).

    python bench/toxicity_scan_recall.py --split dev --recipes base,shipped,no_cases [--loso]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from detect.metrics import auroc
from detect.toxicity import read_toxicity_data
from detect.toxicity.data import ToxicityData, _stratified_sample
from detect.toxicity.hate_suite import hate_suite_cases
from detect.toxicity.model import ToxicityModel
from detect.toxicity.training import (
    fit_model,
    labelled_sources,
    threshold_at_fpr,
    without_benign_holdout,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CIVIL = "civil_comments_toxic_spans"
DAVIDSON = "davidson2017_hate_offensive"
STORMFRONT = "stormfront_degibert2018"
TOXIGEN = "toxigen_prompt_seeds"
# recipe name -> fit_model keyword arguments (``None`` = the code's default)
RECIPES: dict[str, dict[str, Any]] = {
    "base": {"cases": False, "stance": False, "group_context": False, "c": 1.0},
    "shipped": {},
    "main_s29": {"c": 1.0, "cases_weight": 1.0},  # the third round's recipe (main before this round)
    "no_cases": {"cases": False},
    "no_stance": {"stance": False},
    "no_context": {"group_context": False},
    "cases_only": {"stance": False, "group_context": False},
    "cases_half": {"cases_weight": 0.5},
    "cases_quarter": {"cases_weight": 0.25},
    "dense_half": {"member_weights": {"stance": 0.5, "group_context": 0.5}},
    "dense_quarter": {"member_weights": {"stance": 0.25, "group_context": 0.25}},
    "context_half": {"member_weights": {"group_context": 0.5}},
    "blend25": {"blend_without_cases": 0.25},
    "blend50": {"blend_without_cases": 0.5},
    "c_half": {"c": 0.5},
    "c_two": {"c": 2.0},
    "c_four": {"c": 4.0},
    "c_two_blend25": {"c": 2.0, "blend_without_cases": 0.25},
    "c_four_blend25": {"c": 4.0, "blend_without_cases": 0.25},
    "c_two_cases_half": {"c": 2.0, "cases_weight": 0.5},
    "c_four_dense_double": {"c": 4.0, "member_weights": {"stance": 2.0, "group_context": 2.0}},
    "c_four_cases_double": {"c": 4.0, "cases_weight": 2.0},
    "c_four_context_double": {"c": 4.0, "member_weights": {"group_context": 2.0}},
}


def is_test(text: str) -> bool:
    return int(hashlib.sha256(f"toxicity-eval-v1:{text}".encode()).hexdigest()[:8], 16) % 5 == 0


def is_dev(text: str) -> bool:
    return int(hashlib.sha256(f"toxicity-scan-dev-v1:{text}".encode()).hexdigest()[:8], 16) % 4 == 0


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def fitted(rows, recipe: dict[str, Any], seed: int = 0, threshold: float = 0.5) -> ToxicityModel:
    features, classifier, _ = fit_model([r.features_text for r in rows], np.asarray([r.label for r in rows]),
                                        [r.categories for r in rows], [], seed=seed,
                                        sources=np.asarray([r.source for r in rows]), **recipe)
    return ToxicityModel(features=features, classifier=classifier, category_heads={}, threshold=threshold)


def scan_p_toxic(model: ToxicityModel, rows) -> np.ndarray:
    """``p_toxic`` as users get it: raw text, windows of long texts (the most toxic counts), scan path."""
    return np.array([r.p_toxic for r in model.score([row.text for row in rows], blocking=False)])


def out_of_fold(rows, recipe: dict[str, Any], folds: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold scores of the whole normalised text (what training sets the threshold on) and of the scan
    path (windows, what users get)."""
    strata = np.array([f"{r.source}|{r.label}" for r in rows])
    whole, windowed = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(rows, strata):
        model = fitted([rows[i] for i in train_idx], recipe, seed)
        held = [rows[i] for i in test_idx]
        whole[test_idx] = model.probabilities([r.features_text for r in held])[0]
        windowed[test_idx] = scan_p_toxic(model, held)
    return whole, windowed


def binding_source(labels: np.ndarray, scores: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    """Each labelled source's own 5%-FPR threshold (the scan threshold is the largest of these and the pool)."""
    return {s: round(threshold_at_fpr(labels[sources == s], scores[sources == s], sources[sources == s], 0.05,
                                      source_z=0.0), 4)
            for s in labelled_sources(labels, sources)}


def per_source(rows, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    labels = np.array([r.label for r in rows])
    sources = np.array([r.source for r in rows])
    flagged = scores >= threshold
    out: dict[str, Any] = {}
    for source in ["_all", *sorted(set(sources.tolist()))]:
        mine = np.ones(len(rows), bool) if source == "_all" else sources == source
        toxic, clean = mine & (labels == 1), mine & (labels == 0)
        negatives = clean if clean.any() else (labels == 0)  # Civil Comments: against every non-toxic row
        mask = toxic | negatives
        out[source] = {"n_toxic": int(toxic.sum()), "n_non_toxic": int(clean.sum()),
                       "auroc": round(auroc(labels[mask], scores[mask]), 4) if toxic.any() else None,
                       "recall_at_threshold": round(float(flagged[toxic].mean()), 4) if toxic.any() else None,
                       "fpr_at_threshold": round(float(flagged[clean].mean()), 4) if clean.any() else None}
    return out


def loso(fit_rows, eval_rows, recipe: dict[str, Any]) -> dict[str, Any]:
    """Fit without one source, score its evaluation rows: toxic vs not (Davidson; Civil Comments against the
    other sources' non-toxic rows) and hate vs not (Davidson, Stormfront, ToxiGen)."""
    result: dict[str, Any] = {}
    for held in (DAVIDSON, CIVIL, STORMFRONT, TOXIGEN):
        model = fitted([r for r in fit_rows if r.source != held], recipe)
        rows = [r for r in eval_rows if r.source == held or (held == CIVIL and r.label == 0)]
        p = scan_p_toxic(model, rows)
        if held in (DAVIDSON, CIVIL):
            result[f"{held}_toxic"] = round(auroc(np.array([r.label for r in rows]), p), 4)
        if held != CIVIL:
            result[f"{held}_hate"] = round(auroc(np.array(["hate" in r.categories for r in rows], dtype=int), p), 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("dev", "test"), required=True)
    parser.add_argument("--recipes", default="base,shipped")
    parser.add_argument("--max-per-source", type=int, default=1500)
    parser.add_argument("--loso", action="store_true")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the per-source TRAIN sample")
    args = parser.parse_args()
    unknown = [name for name in args.recipes.split(",") if name not in RECIPES]
    if unknown:
        parser.error(f"unknown recipes {unknown}: choose from {', '.join(RECIPES)}")
    everything = read_toxicity_data(sorted((SHARED / "data" / "toxicity").glob("*.jsonl")))
    train = ToxicityData(rows=_stratified_sample([r for r in everything.rows if not is_test(r.text)],
                                                 args.max_per_source, args.sample_seed),
                       fingerprint="train")
    train_rows = without_benign_holdout(train).rows
    if args.split == "dev":
        fit_rows = [r for r in train_rows if not is_dev(r.text)]
        eval_rows = [r for r in train_rows if is_dev(r.text)]
    else:
        fit_rows, eval_rows = train_rows, [r for r in everything.rows if is_test(r.text)]
    suite = hate_suite_cases()
    suite_mask = np.array([c.kind != "abuse" for c in suite])
    suite_y = np.array([c.kind == "hate" for c in suite], dtype=int)
    report: dict[str, Any] = {"benchmark": "toxicity_scan_recall", "split": args.split, "load_start": load(),
                              "sample_seed": args.sample_seed,
                              "max_per_source": args.max_per_source, "fit_rows": len(fit_rows),
                              "eval_rows": len(eval_rows), "recipes": {}}
    fit_labels = np.array([r.label for r in fit_rows])
    fit_sources = np.array([r.source for r in fit_rows])
    for name in args.recipes.split(","):
        started = time.time()
        recipe = RECIPES[name]
        oof, oof_windowed = out_of_fold(fit_rows, recipe)
        strict = threshold_at_fpr(fit_labels, oof, fit_sources, 0.05, source_z=0.0)
        threshold = threshold_at_fpr(fit_labels, oof, fit_sources, 0.05)
        windowed_threshold = threshold_at_fpr(fit_labels, oof_windowed, fit_sources, 0.05)
        model = fitted(fit_rows, recipe, threshold=threshold)
        scores = scan_p_toxic(model, eval_rows)
        suite_scores = scan_p_toxic(model, suite)
        result: dict[str, Any] = {
            "scan_threshold": round(threshold, 4),
            "eval": per_source(eval_rows, scores, threshold),
            "scan_threshold_strict": round(strict, 4),
            "eval_at_strict_threshold": per_source(eval_rows, scores, strict),
            "per_source_oof_thresholds_strict": binding_source(fit_labels, oof, fit_sources),
            "scan_threshold_windowed_oof": round(windowed_threshold, 4),
            "hate_suite_auroc": round(auroc(suite_y[suite_mask], suite_scores[suite_mask]), 4)}
        if args.loso:
            result["loso_auroc"] = loso(fit_rows, eval_rows, recipe)
        result["seconds"] = round(time.time() - started, 1)
        report["recipes"][name] = result
        print(json.dumps({name: result}), file=sys.stderr, flush=True)
    report["load_end"] = load()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
