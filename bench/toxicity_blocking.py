"""The two-policy toxicity screen against main's blocking rule, same run: benign block rate per genre, the
frozen functional suite (AUROC, leave-one-functionality-out), per-category precision/recall, leave-one-source-
out, and scoring throughput.

Splits (decided before the model was built; see docs/guides/toxicity.md):
* labelled rows: ``sha256("toxicity-eval-v1:" + text) % 5 == 0`` is TEST, the rest trains (``--max-per-source``
  sample of the train part); forum/tweet non-toxic rows of the benign calibrate/report buckets never train;
* benign genres (``detect.toxicity.benign``): thresholds are calibrated on the CALIBRATE documents, block rates
  are reported on the REPORT documents (disjoint by book, article, news text or row hash);
* the functional suite (``detect.toxicity.suite``, frozen) is never trained on; leave-one-functionality-out
  refits the blocking stage without the hard-case templates of the functionality being scored;
* leave-one-source-out: both stages trained without one source, scored on that source's test rows.

Baseline: main's code path, i.e. the same first stage with no blocking stage (``model.blocking = None``):
``blocked`` is ``p_toxic`` over the single blocking threshold chosen on out-of-fold non-toxic rows, and its
ranking score is ``p_toxic``. It is the model main's recipe trains on the same rows (the first stage is
unchanged), so the comparison isolates the new policy.

    python bench/toxicity_blocking.py [--max-per-source 2000] [--skip-loso]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from detect.metrics import auroc
from detect.toxicity import read_toxicity_data, train_toxicity_bundle
from detect.toxicity.benign import benign_passages, select
from detect.toxicity.blocking import fit_stage
from detect.toxicity.blocking_training import stage_training_set
from detect.toxicity.data import ToxicityData
from detect.toxicity.functional import functional_cases, functional_report
from detect.toxicity.hard_cases import hard_cases
from detect.toxicity.suite import suite_cases, suite_digest
from detect.toxicity.training import without_benign_holdout

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def is_test(text: str) -> bool:
    return int(hashlib.sha256(f"toxicity-eval-v1:{text}".encode()).hexdigest()[:8], 16) % 5 == 0


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def block_rates(model, passages, categories=None) -> dict[str, dict[str, float]]:
    out = {}
    for genre in sorted({p.genre for p in passages}):
        texts = [p.text for p in passages if p.genre == genre]
        results = model.score(texts, block_categories=categories) if model.blocking is not None else model.score(texts)
        blocked = sum(r.blocked for r in results)
        reasons: dict[str, int] = {}
        for r in results:
            if r.blocked and r.block_reason:
                reasons[r.block_reason["category"]] = reasons.get(r.block_reason["category"], 0) + 1
        out[genre] = {"n": len(texts), "blocked": blocked, "rate": round(blocked / len(texts), 4), "by": reasons}
    total = sum(v["n"] for v in out.values())
    out["_overall"] = {"n": total, "blocked": sum(v["blocked"] for v in out.values()),
                       "rate": round(sum(v["blocked"] for v in out.values()) / total, 4)}
    return out


def block_score(result) -> float:
    return max((result.block_scores.get(name, 0.0) for name in ("hate", "threat")), default=0.0)


def suite_figures(scores: np.ndarray, cases) -> dict[str, object]:
    labels = np.array([c.must_block for c in cases], dtype=int)
    per = {}
    for name in dict.fromkeys(c.functionality for c in cases):
        mine = np.array([c.functionality == name for c in cases])
        label = bool(labels[mine][0])
        other = (labels == (0 if label else 1)) & ~mine
        mask = mine | other
        per[name] = {"must_block": label, "n": int(mine.sum()),
                     "auroc_vs_opposite": round(auroc(labels[mask], scores[mask]), 4)}
    return {"auroc": round(auroc(labels, scores), 4), "per_functionality": per}


def precision_recall(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float | int]:
    tp = int((truth & predicted).sum())
    return {"n_true": int(truth.sum()), "n_predicted": int(predicted.sum()),
            "precision": round(tp / max(int(predicted.sum()), 1), 4), "recall": round(tp / max(int(truth.sum()), 1), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-per-source", type=int, default=2000)
    parser.add_argument("--skip-loso", action="store_true")
    parser.add_argument("--speed-texts", type=int, default=3000)
    args = parser.parse_args()
    started = time.time()

    def say(message: str) -> None:
        print(f"[{time.time() - started:7.1f}s] {message}", file=sys.stderr, flush=True)

    report: dict[str, object] = {"benchmark": "toxicity_blocking", "suite_digest": suite_digest(),
                                 "load_start": load()}
    files = sorted((SHARED / "data" / "toxicity").glob("*.jsonl"))
    everything = read_toxicity_data(files)
    train_rows = [r for r in everything.rows if not is_test(r.text)]
    test_rows = [r for r in everything.rows if is_test(r.text)]
    train = ToxicityData(rows=train_rows, fingerprint=everything.fingerprint)
    from detect.toxicity.data import _stratified_sample

    train = ToxicityData(rows=_stratified_sample(train.rows, args.max_per_source, 0), fingerprint="train")
    passages = benign_passages(SHARED)
    say(f"training on {len(train.rows)} rows; {len(passages)} benign passages")
    bundle = train_toxicity_bundle(train, name="bench", folds=3, cross_source=False, benign=passages, stage=say)
    model = bundle.model
    baseline = copy.copy(model)
    baseline.blocking = None
    report["train_rows"] = len(without_benign_holdout(train).rows)
    report["blocking_card"] = bundle.card["blocking"]
    report["baseline_block_threshold"] = round(model.blocking_threshold(), 4)

    say("benign block rates (report split)")
    reported = select(passages, "report")
    report["benign_block_rate_report_split"] = {
        "new_default_hate_threat": block_rates(model, reported),
        "new_with_offensive_opt_in": block_rates(model, reported, ["hate", "threat", "offensive"]),
        "baseline_main": block_rates(baseline, reported)}

    say("functional suite v2")
    cases = suite_cases()
    results = model.score([c.text for c in cases])
    base_results = baseline.score([c.text for c in cases])
    report["suite_v2"] = {"new_full_hard_cases": suite_figures(np.array([block_score(r) for r in results]), cases),
                          "baseline_p_toxic": suite_figures(np.array([r.p_toxic for r in base_results]), cases),
                          "new_blocked_share_by_label": {
                              "must_block": round(float(np.mean([r.blocked for r, c in zip(results, cases, strict=True)
                                                                 if c.must_block])), 4),
                              "must_not_block": round(float(np.mean([r.blocked for r, c in
                                                                     zip(results, cases, strict=True)
                                                                     if not c.must_block])), 4)}}
    # Leave-one-functionality-out: refit the blocking stage without the matching hard-case family.
    kept = without_benign_holdout(train)
    from detect.toxicity.training import fit_scorer, out_of_fold_scores

    oof = out_of_fold_scores(kept.features_texts, kept.labels, kept.sources, folds=3, seed=0)
    all_cases = hard_cases()
    # as shipped training does: the hard cases scored by a first stage that never trained on them
    unseen = fit_scorer(kept.features_texts, kept.labels, seed=0, sources=kept.sources, cases=False)
    matrix, targets = stage_training_set(kept.features_texts, oof, [r.categories for r in kept.rows], model,
                                         all_cases, raw_texts=[r.text for r in kept.rows], case_scorer=unseen)
    families = np.array([""] * len(kept.rows) + [c.family for c in all_cases])
    lofo = np.zeros(len(cases))
    for name in dict.fromkeys(c.functionality for c in cases):
        keep = families != name
        stage = fit_stage(matrix[keep], {k: v[keep] for k, v in targets.items()}, gate=model.threshold)
        stage.thresholds, stage.benign_scores = model.blocking.thresholds, model.blocking.benign_scores
        probe = copy.copy(model)
        probe.blocking = stage
        members = [i for i, c in enumerate(cases) if c.functionality == name]
        for i, r in zip(members, probe.score([cases[i].text for i in members]), strict=True):
            lofo[i] = block_score(r)
    report["suite_v2"]["new_leave_one_functionality_out"] = suite_figures(lofo, cases)

    old = functional_cases()
    for label, m in (("new", model), ("baseline_main", baseline)):
        scored = m.score([c.text for c in old])
        report.setdefault("suite_v1_regression", {})[label] = {
            "at_scan": functional_report(old, [s.toxic for s in scored], [s.categories for s in scored])["per_family"],
            "at_block": functional_report(old, [s.blocked for s in scored],
                                          [s.categories if s.blocked else [] for s in scored])["per_family"]}

    say("labelled test split")
    texts = [r.text for r in test_rows]
    scored = model.score(texts)
    base_scored = baseline.score(texts)
    labels = np.array([r.label for r in test_rows], dtype=bool)
    hate = np.array(["hate" in r.categories for r in test_rows], dtype=bool)
    offensive = np.array(["offensive" in r.categories for r in test_rows], dtype=bool)
    sources = np.array([r.source for r in test_rows])
    per_cat: dict[str, object] = {}
    for source in ["_all", *sorted(set(sources.tolist()))]:
        mask = np.ones(len(test_rows), bool) if source == "_all" else sources == source
        idx = np.flatnonzero(mask)
        per_cat[source] = {
            "toxic_flag(scan)": precision_recall(labels[idx], np.array([scored[i].toxic for i in idx], bool)),
            "hate_flag(scan)": precision_recall(hate[idx], np.array(["hate" in scored[i].categories for i in idx],
                                                                    bool)),
            "offensive_flag(scan)": precision_recall(offensive[idx], np.array(["offensive" in scored[i].categories
                                                                               for i in idx], bool)),
            "hate_block(generation)": precision_recall(hate[idx], np.array(
                [bool(scored[i].blocked and scored[i].block_reason["category"] == "hate") for i in idx], bool)),
            "any_block_new": precision_recall(labels[idx], np.array([scored[i].blocked for i in idx], bool)),
            "any_block_baseline": precision_recall(labels[idx], np.array([base_scored[i].blocked for i in idx],
                                                                         bool)),
            "hate_auroc_block_score_new": round(auroc(hate[idx].astype(int),
                                                      np.array([block_score(scored[i]) for i in idx])), 4)
            if 0 < hate[idx].sum() < len(idx) else None,
            "hate_auroc_p_toxic_baseline": round(auroc(hate[idx].astype(int),
                                                       np.array([base_scored[i].p_toxic for i in idx])), 4)
            if 0 < hate[idx].sum() < len(idx) else None}
    report["labelled_test_split"] = per_cat

    speed_texts = texts[:args.speed_texts]
    model.score(speed_texts[:50])
    timings = {}
    runs = (("baseline_main", baseline, True), ("new_scan_path_flag_only", model, False),
            ("new_generation_path_with_blocking", model, True), ("baseline_main_again", baseline, True))
    for label, m, blocking in runs:
        t0, c0 = time.perf_counter(), time.process_time()
        m.score(speed_texts, blocking=blocking)
        timings[label] = {"docs_per_s": round(len(speed_texts) / (time.perf_counter() - t0), 1),
                          "docs_per_cpu_s": round(len(speed_texts) / (time.process_time() - c0), 1)}
    report["throughput_labelled_test_texts"] = {"n": len(speed_texts), **timings, "load": load()}

    if not args.skip_loso:
        loso = {}
        say("leave-one-source-out")
        for source in ("davidson2017_hate_offensive", "stormfront_degibert2018", "toxigen_prompt_seeds"):
            part = ToxicityData(rows=[r for r in train.rows if r.source != source], fingerprint="loso")
            held = [r for r in test_rows if r.source == source]
            m = train_toxicity_bundle(part, name="loso", folds=2, cross_source=False, benign=passages).model
            got = m.score([r.text for r in held])
            y_toxic = np.array([r.label for r in held])
            y_hate = np.array(["hate" in r.categories for r in held], dtype=int)
            p_toxic = np.array([g.p_toxic for g in got])
            loso[source] = {"n": len(held), "p_toxic_auroc_toxic": round(auroc(y_toxic, p_toxic), 4),
                            "block_score_auroc_hate": round(auroc(y_hate, np.array([block_score(g) for g in got])), 4)
                            if 0 < y_hate.sum() < len(y_hate) else None,
                            "p_toxic_auroc_hate_baseline": round(auroc(y_hate, np.array([g.p_toxic for g in got])), 4)
                            if 0 < y_hate.sum() < len(y_hate) else None}
        report["leave_one_source_out_test_rows"] = loso
    report["seconds"] = round(time.time() - started, 1)
    report["load_end"] = load()
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
