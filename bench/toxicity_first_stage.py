"""First-stage (``p_toxic``) variants for group-directed hate, development protocol of issue 29's third round.

Splits (decided before building): labelled rows ``sha256("toxicity-eval-v1:" + text) % 5 == 0`` are TEST,
a ``--max-per-source`` sample of the rest trains (forum/tweet benign hold-out buckets never train).
* leave-one-source-out: fit without one source's rows, score that source's TEST rows (hate vs not; Davidson
  also toxic vs not, the abuse proxy);
* the third functional suite (``hate_suite``, frozen before this round's first-stage changes): AUROC of
  ``p_toxic`` over hate vs not_hate, and the mean ``p_toxic`` of its abuse cases;
* regression checks only (used for selection before): suite v2 (must_block) and the old functional suite.
Variants: ``base`` (main's recipe), ``stance`` (+ stance columns), ``cases`` (+ first-stage hand-written
rows as one more source), ``both``.

    python bench/toxicity_first_stage.py [--max-per-source 1500] [--variants base,both]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import time
from pathlib import Path

import numpy as np

from detect.metrics import auroc
from detect.toxicity import read_toxicity_data
from detect.toxicity.functional import functional_cases
from detect.toxicity.hate_suite import hate_suite_cases
from detect.toxicity.normalize import normalize_toxicity
from detect.toxicity.suite import suite_cases
from detect.toxicity.training import fit_model, without_benign_holdout

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def is_test(text: str) -> bool:
    return int(hashlib.sha256(f"toxicity-eval-v1:{text}".encode()).hexdigest()[:8], 16) % 5 == 0


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def fit(rows, variant: str, seed: int = 0):
    cats = [row.categories for row in rows]
    features, classifier, _ = fit_model([row.features_text for row in rows], np.asarray([row.label for row in rows]),
                                        cats, [],
                                        seed=seed, sources=np.asarray([row.source for row in rows]),
                                        cases=variant in ("cases", "both", "ctx", "all", "all2", "all3"),
                                        cases_weight={"all2": 2.0, "all3": 3.0}.get(variant, 1.0),
                                        stance=variant in ("stance", "both", "all", "all2", "all3"),
                                        group_context=variant in ("ctx", "all", "all2", "all3"))
    return lambda batch: classifier.predict_proba(features.transform(batch))[:, 1]


def norm(texts):
    return [normalize_toxicity(t).text for t in texts]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-per-source", type=int, default=1500)
    parser.add_argument("--variants", default="base,stance,cases,both")
    args = parser.parse_args()
    data = without_benign_holdout(read_toxicity_data(sorted((SHARED / "data" / "toxicity").glob("*.jsonl")),
                                                     max_per_source=args.max_per_source, seed=0))
    train = [row for row in data.rows if not is_test(row.text)]
    test = [row for row in data.rows if is_test(row.text)]
    hs = hate_suite_cases()
    hs_texts = norm([c.text for c in hs])
    hs_mask = np.array([c.kind != "abuse" for c in hs])
    hs_y = np.array([c.kind == "hate" for c in hs])
    v2 = suite_cases()
    v2_texts = norm([c.text for c in v2])
    old = functional_cases()
    old_texts = norm([c.text for c in old])
    old_y = np.array([c.family == "group_directed_hate" for c in old])
    out = {"load_start": load(), "max_per_source": args.max_per_source, "variants": {}}
    for variant in args.variants.split(","):
        started = time.time()
        res: dict[str, object] = {}
        for held in ("stormfront_degibert2018", "toxigen_prompt_seeds", "davidson2017_hate_offensive"):
            score = fit([row for row in train if row.source != held], variant)
            rows = [row for row in test if row.source == held]
            p = score([row.features_text for row in rows])
            hate = np.array(["hate" in row.categories for row in rows])
            res[f"loso_{held.split('_')[0]}_hate"] = round(auroc(hate.astype(int), p), 3)
            if held.startswith("davidson"):
                res["loso_davidson_toxic"] = round(auroc(np.array([r.label for r in rows]), p), 3)
        score = fit(train, variant)
        for source in sorted({row.source for row in test}):
            rows = [row for row in test if row.source == source]
            y = np.array([row.label for row in rows])
            if len(set(y)) == 2:
                res[f"test_{source.split('_')[0]}_toxic"] = round(auroc(y, score([r.features_text for r in rows])), 3)
        p = score(hs_texts)
        res["hate_suite_auroc"] = round(auroc(hs_y[hs_mask].astype(int), p[hs_mask]), 3)
        res["hate_suite_abuse_mean_p"] = round(float(p[~hs_mask].mean()), 3)
        per = {}
        for name in sorted({c.functionality for c in hs}):
            m = np.array([c.functionality == name for c in hs])
            per[name] = round(float(p[m].mean()), 2)
        res["hate_suite_mean_p_per_functionality"] = per
        res["suite_v2_auroc"] = round(auroc(np.array([c.must_block for c in v2]).astype(int), score(v2_texts)), 3)
        res["old_suite_auroc"] = round(auroc(old_y.astype(int), score(old_texts)), 3)
        res["seconds"] = round(time.time() - started, 1)
        out["variants"][variant] = res
        print(json.dumps({variant: res}), flush=True)
    out["load_end"] = load()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
