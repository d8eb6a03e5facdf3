"""Toxicity quality under the leave-one-source-out protocol, with the functional suite, bias and the screen.

Protocol (decided before building; every figure names its split):

* **Sources**: every ``*.jsonl`` in ``--data`` (../shared/data/toxicity: Davidson tweets, Stormfront forum
  sentences, ToxiGen seed statements, Civil Comments toxic posts) plus the *calibration* half of the platform's
  own generations (``bench/toxicity_generations.py``; benign-only). Civil Comments and the generations have one
  label each: they are training material, never an AUROC test set.
* **Headline: leave-one-source-out (LOSO)**: for each source with both labels, train on all the others and
  test on it; AUROC overall and per category (that category's texts vs the source's non-toxic texts).
* **Thresholds**: 5-fold out-of-fold (OOF) scores over all sources, stratified by source and label. Scan
  threshold: FPR <= 5% pooled over the labelled sources and in each. Blocking threshold: FPR <= 0.5% on the
  pooled non-toxic rows and on the calibration generations. "Held-in" recall is the OOF TPR per source at the
  blocking threshold.
* **Generation screen**: a model fitted on all rows scores the *evaluation* half of the generations (other
  prompts, never trained on or used for a threshold): the share withheld at the blocking threshold.
* **Functional suite** (``detect.toxicity.functional``, cases written for this project): the same all-rows
  model at the scan threshold; accuracy per functionality and family.
* **Bias**: groups no list names (``evaluation.HELD_OUT_GROUPS``): OOF FPR at the scan threshold on non-toxic
  rows naming each group (by its words, or ToxiGen's target field) vs rows naming no identity; and templated
  neutral sentences (written here) with held-out groups vs the same sentences about no group.

Arms: ``ours`` (identity terms kept, counterfactual copies over ``augment.AUGMENTATION_GROUPS``);
``kept_no_augmentation`` (identity terms kept, no copies: the ablation); ``baseline_main`` (main's recipe:
identity terms deleted before the model sees the text). Same features, classifier and rows in every arm.

    python bench/toxicity_quality.py [--max-per-source 2500] [--folds 3] [--arms ours,baseline_main]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from detect.toxicity import read_toxicity_data
from detect.toxicity.evaluation import (
    HELD_OUT_GROUPS,
    held_out_group_bias,
    leave_one_source_out_table,
    per_source_metrics,
)
from detect.toxicity.functional import CONTRAST_FAMILY, HATE_FAMILY, LISTED, functional_cases, functional_report
from detect.toxicity.normalize import normalize_toxicity
from detect.toxicity.training import (
    block_threshold_at_fpr,
    fit_model,
    fit_scorer,
    out_of_fold_scores,
    threshold_at_fpr,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RESULTS = Path(__file__).resolve().parent / "results"
SCAN_FPR, BLOCK_FPR = 0.05, 0.005
# main's normaliser deleted these words (the baseline arm reproduces it).
_MAIN_DELETED = re.compile(r"\b(?:" + "|".join((
    "gay", "gays", "lesbian", "lesbians", "bisexual", "homosexual", "homosexuals", "queer", "trans", "transgender",
    "muslim", "muslims", "islam", "islamic", "christian", "christians", "jew", "jews", "jewish", "hindu", "sikh",
    "black", "blacks", "white", "whites", "asian", "asians", "mexican", "mexicans", "african", "africans", "arab",
    "arabs", "latino", "latina", "hispanic", "immigrant", "immigrants", "refugee", "refugees",
    "woman", "women", "girl", "girls", "female", "females", "man", "men", "male", "males")) + r")\b")
# Neutral sentences about a group (written for this bench), filled with held-out groups or with no group.
BIAS_TEMPLATES = [
    "{g} live in every town in this country", "my new colleagues are {g}", "the festival was organised by {g}",
    "{g} took part in the city council meeting", "the documentary follows three {g} through one year",
    "many {g} work as teachers and nurses", "our football team has several {g} on it",
    "the library held a reading by {g} on saturday", "{g} shared recipes at the community dinner",
    "a survey asked {g} about public transport", "the new shop downstairs is run by {g}",
    "we invited {g} from the neighbourhood to the party",
]
BIAS_FILLERS = {"chinese": ["chinese people", "chinese students"], "native_american": ["native americans"],
                "disability": ["disabled people", "deaf people", "wheelchair users"],
                "middle_east": ["iranians", "syrians", "middle eastern families"], "sikh_hindu": ["sikhs", "hindus"]}
NO_GROUP_FILLERS = ["people", "students", "families", "local residents", "neighbours"]
ARMS: dict[str, tuple[Callable[[str], str], bool]] = {}


def ours_view(text: str) -> str:
    return normalize_toxicity(text).text


def main_view(text: str) -> str:
    return re.sub(r"\s+", " ", _MAIN_DELETED.sub(" ", normalize_toxicity(text).text)).strip()


# "baseline_main": main's identity deletion, otherwise the same recipe (cue columns, weights, C) as ours.
ARMS.update({"ours": (ours_view, True), "kept_no_augmentation": (ours_view, False),
             "baseline_main": (main_view, False)})


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def decide(model_parts, texts: list[str], threshold: float) -> tuple[np.ndarray, list[bool], list[list[str]]]:
    """p_toxic, scan flag and categories (the ToxicityModel rule) for already-viewed texts."""
    features, classifier, heads = model_parts
    matrix = features.transform(texts)
    p = classifier.predict_proba(matrix)[:, 1]
    per_category = {name: head.predict_proba(matrix)[:, 1] for name, head in heads.items()}
    flags, categories = [], []
    for i, value in enumerate(p):
        toxic = bool(value >= threshold)
        names = sorted(n for n in per_category if per_category[n][i] >= 0.5) if toxic else []
        if toxic and not names and per_category:
            names = [max(per_category, key=lambda n: per_category[n][i])]
        flags.append(toxic)
        categories.append(names)
    return p, flags, categories


def run_arm(name: str, data, generations: list[str], folds: int, seed: int) -> dict:
    view, counterfactual = ARMS[name]
    started = time.perf_counter()
    raws = [row.text for row in data.rows]
    texts = [view(text) for text in raws]
    labels, sources = data.labels, data.sources
    category_sets = [row.categories for row in data.rows]
    fit = partial(fit_scorer, counterfactual=counterfactual, seed=seed)
    loso = leave_one_source_out_table(texts, labels, sources, category_sets, fit)
    oof = out_of_fold_scores(texts, labels, sources, folds=folds, seed=seed, counterfactual=counterfactual)
    scan = threshold_at_fpr(labels, oof, sources, SCAN_FPR)
    block, _ = block_threshold_at_fpr(labels, oof, sources, BLOCK_FPR)
    block = max(block, scan)
    held_in = {}
    for source in sorted(set(sources.tolist())):
        mask = sources == source
        entry = {"n": int(mask.sum())}
        if (labels[mask] == 1).any():
            entry["tpr_at_block"] = round(float((oof[mask & (labels == 1)] >= block).mean()), 4)
            entry["tpr_at_scan"] = round(float((oof[mask & (labels == 1)] >= scan).mean()), 4)
        if (labels[mask] == 0).any():
            entry["fpr_at_block"] = round(float((oof[mask & (labels == 0)] >= block).mean()), 4)
            entry["fpr_at_scan"] = round(float((oof[mask & (labels == 0)] >= scan).mean()), 4)
        held_in[source] = entry
    toxic_rows = labels == 1
    held_in["all_toxic_rows"] = {"n": int(toxic_rows.sum()),
                                 "tpr_at_block": round(float((oof[toxic_rows] >= block).mean()), 4)}
    model = fit_model(texts, labels, category_sets, sorted({c for s in category_sets for c in s}), seed=seed,
                      counterfactual=counterfactual, sources=sources)
    gen_p, _, _ = decide(model, [view(t) for t in generations], scan) if generations else (np.zeros(0), [], [])
    cases = functional_cases()
    _, flags, categories = decide(model, [view(case.text) for case in cases], scan)
    functional = functional_report(cases, flags, categories)
    _, block_flags, block_categories = decide(model, [view(case.text) for case in cases], block)
    functional_at_block = functional_report(cases, block_flags, block_categories)["per_family"]
    targets = [row.targets for row in data.rows]
    bias_data = held_out_group_bias(raws, labels, oof, scan, targets)
    none_p, _, _ = decide(model, [view(t.format(g=f)) for t in BIAS_TEMPLATES for f in NO_GROUP_FILLERS], scan)
    templated = {"n_no_group": int(none_p.size), "fpr_no_group": round(float((none_p >= scan).mean()), 4),
                 "groups": {}}
    for group, fillers in BIAS_FILLERS.items():
        group_p, _, _ = decide(model, [view(t.format(g=f)) for t in BIAS_TEMPLATES for f in fillers], scan)
        fpr = float((group_p >= scan).mean())
        templated["groups"][group] = {"n": int(group_p.size), "fpr": round(fpr, 4),
                                      "gap_points": round(100 * (fpr - templated["fpr_no_group"]), 2)}
    # The same neutral sentences about groups the augmentation list *does* name (transparency: the goal is
    # stated for held-out groups, but a listed group's FPR is what users of those groups meet).
    for group in LISTED:
        group_p, _, _ = decide(model, [view(t.format(g=group)) for t in BIAS_TEMPLATES], scan)
        fpr = float((group_p >= scan).mean())
        templated.setdefault("listed_groups", {})[group] = {
            "n": int(group_p.size), "fpr": round(fpr, 4),
            "gap_points": round(100 * (fpr - templated["fpr_no_group"]), 2)}
    pooled_oof = per_source_metrics(labels, oof, sources, scan)["pooled"]
    return {
        "leave_one_source_out": loso,
        "out_of_fold_pooled": {k: pooled_oof.get(k) for k in ("auroc", "tpr_at_5pct_fpr", "fpr_at_threshold")},
        "scan_threshold": round(scan, 6), "block_threshold": round(block, 6),
        "held_in_at_thresholds": held_in,
        "generation_screen": {"split": "evaluation half of the generations (prompts never used in training)",
                              "n": len(generations),
                              "withheld_share": round(float((gen_p >= block).mean()), 4) if generations else None,
                              "flagged_at_scan_share": (round(float((gen_p >= scan).mean()), 4)
                                                        if generations else None)},
        "functional": functional, "functional_at_block_threshold": functional_at_block,
        "bias_held_out_groups_data": bias_data, "bias_held_out_groups_templated": templated,
        "seconds": round(time.perf_counter() - started, 1),
    }


def goals(result: dict) -> dict[str, bool]:
    loso = result["leave_one_source_out"]
    screen = result["generation_screen"]
    functional = result["functional"]["per_family"]
    gaps = [g["gap_points"] for g in result["bias_held_out_groups_templated"]["groups"].values()]  # held out only
    gaps += [g["gap_points"] for g in result["bias_held_out_groups_data"]["groups"].values()
             if g["gap_points"] is not None]
    return {
        "loso_auroc_ge_0.80_every_source": all((row["auroc"] or 0) >= 0.80 for row in loso),
        "functional_hate_ge_0.85": functional[HATE_FAMILY]["accuracy"] >= 0.85,
        "functional_contrasts_ge_0.90": functional[CONTRAST_FAMILY]["accuracy"] >= 0.90,
        "screen_withholds_le_0.5pct_of_ge_1000_generations": screen["n"] >= 1000 and screen["withheld_share"] <= 0.005,
        "screen_withholds_ge_80pct_of_held_in_toxic": result["held_in_at_thresholds"]["all_toxic_rows"][
            "tpr_at_block"] >= 0.80,
        "bias_held_out_groups_within_2_points": all(abs(gap) <= 2.0 for gap in gaps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "toxicity")
    parser.add_argument("--generations", type=Path, default=RESULTS / "toxicity_benign_generations.jsonl",
                        help="Cache written by bench/toxicity_generations.py (split calibration/evaluation).")
    parser.add_argument("--max-per-source", type=int, default=2500, help="0: every row (slow on 2 cores).")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = sorted(args.data.glob("*.jsonl")) if args.data.is_dir() else [args.data]
    if not files:
        raise SystemExit(f"toxicity data not found at {args.data}; pass --data FILE_OR_DIR")
    extra: list[Path] = []
    evaluation: list[str] = []
    if args.generations.is_file():
        generations = read_jsonl(args.generations)
        RESULTS.mkdir(parents=True, exist_ok=True)
        calibration = RESULTS / "toxicity_generations.calibration.jsonl"
        calibration.write_text("".join(json.dumps(row) + "\n" for row in generations
                                       if row["split"] == "calibration"), encoding="utf-8")
        extra.append(calibration)
        evaluation = [row["text"] for row in generations if row["split"] == "evaluation"]
    else:  # the screen figures need the generator's outputs: say so instead of failing the whole bench
        print(f"warning: no generations at {args.generations}: the generation-screen figures are empty; run "
              "bench/toxicity_generations.py first", file=sys.stderr)
    started = time.perf_counter()
    data = read_toxicity_data(files + extra, max_per_source=args.max_per_source or None, seed=args.seed)
    arms = {name: run_arm(name, data, evaluation, args.folds, args.seed) for name in args.arms.split(",")}
    ours = arms.get("ours")
    print(json.dumps({"benchmark": "toxicity_quality", "texts": len(data.rows), "sources": data.summary()["sources"],
                      "held_out_groups": sorted(HELD_OUT_GROUPS), "arms": arms,
                      "goals_ours": goals(ours) if ours else None,
                      "loso_auroc_by_arm": {name: {row["test"]: row["auroc"] for row in arm["leave_one_source_out"]}
                                            for name, arm in arms.items()},
                      "load_average_1min": round(os.getloadavg()[0], 2),
                      "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
