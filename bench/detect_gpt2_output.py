"""Real GPT-2 text (issue 25): which stacker and which training data, judged on settings and sizes left out.

Protocol, fixed before any model was built:
* Data: OpenAI's GPT-2 samples and WebText human passages (``../shared/data/gpt2-output``, the short WebText
  passages left out: they teach length) with ``--per-generator`` texts per generator and ``--humans`` human texts,
  plus a stratified ``--detect-texts`` sample of the older labelled data (``../shared/data/detect``). Long texts are
  cut as ``provenance detect train`` cuts them (``detect.training.cut_length``).
* WebText human texts are split in two halves by a hash of their prompt group: one half may train, the other only
  tests, so no human text is ever on both sides.
* Splits: ``setting:S`` trains without every machine text of sampling setting S (pure, top-k 40, temperature 0.7)
  and tests on those texts plus the test-half humans; ``size:small`` trains on GPT-2-XL text only and tests on
  GPT-2 small (117M) text; ``domain:gpt2-output`` trains on the older data alone and tests on all of the new data
  (what today's bundle faces); ``halves`` trains on the training half of the new data (every setting) and tests on
  the rest, per generator slice. ``old`` adds leave-one-domain-out (squad, xsum) and leave-one-generator-out over
  the older data, with the new data always on the training side.
* Every stacker of a split is trained on the same texts in the same run. ``NAME:old-data-only`` is the recipe of the
  bundle before issue 25 (the older data alone), the baseline.

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/detect_gpt2_output.py \\
        [--stackers logit:old-data-only,logit,twosided,twosided-probe] [--splits new,halves,old]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from detect.classifier import ScoredText
from detect.data import LabelledText
from detect.ensemble import AbstainPolicy, train_ensemble
from detect.metrics import point_metrics, verdict_rates
from detect.training import prepare, score_rows
from provenance.detection import DetectionService
from provenance.settings import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
NEW_DOMAIN = "gpt2-output"
OLD_ONLY = ":old-data-only"


def new_rows(folder: Path, per_generator: int, humans: int, seed: int) -> list[LabelledText]:
    files = [path for path in sorted(folder.glob("*.jsonl")) if "short" not in path.name]
    by_generator: dict[str, list[LabelledText]] = defaultdict(list)
    for row in prepare(files).rows:
        by_generator[row.generator].append(row)
    rng = random.Random(seed)
    chosen: list[LabelledText] = []
    for generator in sorted(by_generator):
        members = by_generator[generator]
        rng.shuffle(members)
        chosen += members[: humans if generator == "human" else per_generator]
    return chosen


def in_test_half(group: int) -> bool:
    """The WebText half a prompt group falls in (shared with ``bench/detect_aligned_scorer.py``)."""
    return int(hashlib.sha256(str(group).encode()).hexdigest(), 16) % 2 == 1


def test_half(groups: np.ndarray) -> np.ndarray:
    return np.array([in_test_half(group) for group in groups])


def splits(names: set[str], labels: np.ndarray, groups: np.ndarray, domains: np.ndarray,
           generators: np.ndarray, seed: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(split name, train mask, test mask), as the module docstring lays them out."""
    new = domains == NEW_DOMAIN
    held_humans = new & (labels == 0) & test_half(groups)
    if "new" in names:
        for setting in ("pure", "k40", "t0.7"):
            out = new & (labels == 1) & np.char.endswith(generators.astype(str), "@" + setting)
            yield f"setting:{setting}", ~out & ~held_humans, out | held_humans
        small = new & np.char.startswith(generators.astype(str), "gpt2-small")
        yield "size:small", ~small & ~held_humans, small | held_humans
        yield f"domain:{NEW_DOMAIN}", ~new, new
    if "halves" in names:
        held = new & test_half(groups)
        yield "halves", ~held, held
    if "old" in names:
        for domain in sorted(set(domains[~new].tolist())):
            yield f"domain:{domain}", domains != domain, domains == domain
        rng = np.random.default_rng(seed)
        for generator in sorted(set(generators[~new & (labels == 1)].tolist())):
            is_generator = generators == generator
            chosen = np.unique(groups[is_generator])
            in_test = np.isin(groups, rng.choice(chosen, size=len(chosen) // 2, replace=False))
            yield f"generator:{generator}", ~in_test & ~is_generator, in_test & (is_generator | (labels == 0))


def judge_split(items: list[ScoredText], labels: np.ndarray, groups: np.ndarray, domains: np.ndarray,
                generators: np.ndarray, train: np.ndarray, test: np.ndarray, stacker: str, seed: int) -> dict:
    recipe = stacker.removesuffix(OLD_ONLY)
    if stacker.endswith(OLD_ONLY):
        train = train[domains[train] != NEW_DOMAIN]
    started = time.perf_counter()
    result = train_ensemble([items[i] for i in train], labels[train], groups[train], domains[train], n_splits=3,
                            seed=seed, stacker=recipe)
    ensemble = result.ensemble
    test_items = [items[i] for i in test]
    y = labels[test]
    p = ensemble.probabilities(test_items)
    verdicts = [v.verdict for v in ensemble.judge(test_items)]
    figures = point_metrics(y, p, ensemble.thresholds.machine)
    row = {"auroc": figures["auroc"], "tpr_at_1pct_fpr": figures.get("tpr_at_1pct_fpr"),
           "fpr_at_threshold": figures.get("fpr_at_threshold"),
           "tpr_at_threshold": figures.get("tpr_at_threshold"),
           **verdict_rates(y, verdicts),
           "seconds": time.perf_counter() - started}
    # The same ensemble without its domain thresholds: what routing (detect.domain_router) changes, same texts.
    plain = replace(ensemble, router=None, domain_thresholds=None)
    row["global_thresholds_only"] = verdict_rates(y, [v.verdict for v in plain.judge(test_items)])
    slices = sorted(set(generators[test][y == 1].tolist()))
    if len(slices) > 1:
        for generator in slices:
            keep = (generators[test] == generator) | (y == 0)
            row[f"slice:{generator}"] = point_metrics(y[keep], p[keep])["auroc"]
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpt2-data", type=Path, default=SHARED / "data" / "gpt2-output")
    parser.add_argument("--detect-data", type=Path, default=SHARED / "data" / "detect")
    parser.add_argument("--per-generator", type=int, default=220)
    parser.add_argument("--humans", type=int, default=600)
    parser.add_argument("--detect-texts", type=int, default=800)
    parser.add_argument("--stackers", default="logit:old-data-only,logit,twosided,twosided-probe")
    parser.add_argument("--splits", default="new,halves")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for folder in (args.gpt2_data, args.detect_data):
        if not folder.is_dir():
            raise SystemExit(f"data folder {folder} not found; pass --gpt2-data / --detect-data")
    settings = Settings()
    service = DetectionService(settings, for_training=True)
    rows = new_rows(args.gpt2_data, args.per_generator, args.humans, args.seed)
    rows += prepare(sorted(args.detect_data.glob("*.jsonl")), max_texts=args.detect_texts, seed=args.seed).rows
    started = time.perf_counter()
    items = score_rows(service.scorer, rows, service.cache)
    scoring_s = time.perf_counter() - started
    policy = AbstainPolicy()
    keep = [i for i, item in enumerate(items) if policy.reason(item) is None]
    items, rows = [items[i] for i in keep], [rows[i] for i in keep]
    labels = np.array([row.label for row in rows])
    domains = np.array([row.domain for row in rows])
    generators = np.array([row.generator for row in rows])
    # Group ids restart per prepare() call: keep the two data sets' groups apart.
    groups = np.array([row.group + (0 if row.domain == NEW_DOMAIN else 10**7) for row in rows])
    stackers = args.stackers.split(",")
    report: dict = {"benchmark": "detect_gpt2_output", "scorer": service.scorer.identity, "texts": len(rows),
                    "scoring_seconds_uncached_part": round(scoring_s, 1), "splits": {}}
    for name, train, test in splits(set(args.splits.split(",")), labels, groups, domains, generators, args.seed):
        train, test = np.flatnonzero(train), np.flatnonzero(test)
        entry = {"n_train": len(train), "test_human": int((labels[test] == 0).sum()),
                 "test_machine": int(labels[test].sum())}
        for stacker in stackers:
            entry[stacker] = judge_split(items, labels, groups, domains, generators, train, test, stacker, args.seed)
        report["splits"][name] = entry
    print(json.dumps(report))


if __name__ == "__main__":
    main()
