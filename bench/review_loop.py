"""Simulate the review loop: reviewers label a domain the shipped bundle never saw, it is retrained and promoted.

Protocol (issue 21). The "shipped" bundle is trained on every domain but ``--left-out`` (SQuAD by default). The
left-out domain's prompt groups are split in two: a *pool* the simulated reviewers label from (true labels), and
an untouched *test half*. Each round, ``--per-round`` items are taken from the pool in the active bundle's asking
order, a candidate is retrained on the base data plus the labels so far (minus a held-back quarter of the
reviewed groups, as ``provenance detect retrain`` does), and promoted when it is at least as good on the held-back
labels and not worse, beyond the active bundle's 95% interval, on a held-out part of the base data. Orderings
compared in the same run: ``uncertainty`` (closest to P(machine)=0.5 first, every fifth pick random) and
``random``. Statistics come from the cache (``--only-cached`` keeps only texts already scored), so a round costs
only training.

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/review_loop.py --only-cached
        [--left-out squad] [--labels 200] [--per-round 25] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from detect.cache import StatisticsCache, text_key
from detect.classifier import ScoredText
from detect.data import LabelledText
from detect.ensemble import DEFAULT_STACKER, AbstainPolicy, TrainedEnsemble, train_ensemble
from detect.metrics import point_metrics, verdict_rates
from detect.review_data import REVIEW_DOMAIN, held_back_mask, judged_metrics, promotion_checks, uncertainty_order
from detect.training import prepare, score_rows
from provenance.settings import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ORDERINGS = ("uncertainty", "random")


def split_groups(groups: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A mask of rows whose group falls in a random ``share`` of the distinct groups."""
    unique = np.unique(groups)
    chosen = np.random.default_rng(seed).choice(unique, size=int(round(share * len(unique))), replace=False)
    return np.isin(groups, chosen)


def test_figures(ensemble: TrainedEnsemble, items: list[ScoredText], labels: np.ndarray) -> dict[str, float]:
    """AUROC, uncertain share and FPR/TPR at the bundle's machine threshold on the untouched test half."""
    p = ensemble.probabilities(items)
    verdicts = ensemble.judge(items)
    figures = point_metrics(labels, p, ensemble.thresholds.machine)
    figures.update(verdict_rates(labels, [v.verdict for v in verdicts]))
    return {key: round(float(value), 4) for key, value in figures.items()}


class Simulation:
    """The fixed parts of one run: base rows, the left-out pool and test half, the shipped ensemble."""

    def __init__(self, items: list[ScoredText], rows: list[LabelledText], left_out: str, target_fpr: float,
                 seed: int, stacker: str = DEFAULT_STACKER) -> None:
        self.items, self.rows, self.target_fpr, self.seed, self.stacker = items, rows, target_fpr, seed, stacker
        self.labels = np.array([row.label for row in rows], dtype=np.int64)
        self.groups = np.array([row.group for row in rows])
        domains = np.array([row.domain for row in rows])
        in_domain = domains == left_out
        if not in_domain.any() or in_domain.all():
            raise SystemExit(f"domain {left_out!r} must be one of several in the data: {sorted(set(domains))}")
        pool_side = split_groups(self.groups[in_domain], 0.5, seed)
        self.pool = np.flatnonzero(in_domain)[pool_side]
        self.test = np.flatnonzero(in_domain)[~pool_side]
        base = np.flatnonzero(~in_domain)
        base_test_side = split_groups(self.groups[base], 0.25, seed + 1)
        self.base_train, self.base_test = base[~base_test_side], base[base_test_side]
        self.domains = np.where(in_domain, REVIEW_DOMAIN, domains)
        self.shipped = self.train(np.zeros(0, dtype=np.int64))

    def subset(self, index: np.ndarray) -> list[ScoredText]:
        return [self.items[i] for i in index]

    def train(self, labelled: np.ndarray) -> TrainedEnsemble:
        index = np.concatenate([self.base_train, labelled]).astype(np.int64)
        return train_ensemble(self.subset(index), self.labels[index], self.groups[index], self.domains[index],
                              target_fpr=self.target_fpr, seed=self.seed, stacker=self.stacker).ensemble

    def gate(self, active: TrainedEnsemble, candidate: TrainedEnsemble, held: np.ndarray) -> list[str]:
        """``detect.review_data.promotion_checks`` with the held-out base part standing in for the base
        leave-one-domain-out split (the base side of this simulation has too few domains for one)."""
        base_items, base_y = self.subset(self.base_test), self.labels[self.base_test]
        held_items, held_y = self.subset(held), self.labels[held]
        comparison = {
            "reviewed_held_back": {"active": judged_metrics(active, held_items, held_y, self.seed),
                                   "candidate": judged_metrics(candidate, held_items, held_y, self.seed)},
            "base_leave_one_domain_out": {"active": {"base": judged_metrics(active, base_items, base_y, self.seed)},
                                          "candidate": {"base": judged_metrics(candidate, base_items, base_y,
                                                                               self.seed)}},
        }
        return promotion_checks(comparison)

    def run(self, ordering: str, budget: int, per_round: int) -> list[dict[str, Any]]:
        active = self.shipped
        test_items, test_y = self.subset(self.test), self.labels[self.test]
        curve = [{"labels": 0, "promoted": None, **test_figures(active, test_items, test_y)}]
        labelled: list[int] = []
        rng = np.random.default_rng(self.seed + 7)
        while len(labelled) < budget:
            taken = set(labelled)
            remaining = np.array([i for i in self.pool if i not in taken], dtype=np.int64)
            if len(remaining) == 0:
                break
            take = min(per_round, budget - len(labelled), len(remaining))
            if ordering == "uncertainty":
                order = uncertainty_order(active.probabilities(self.subset(remaining)), seed=self.seed + len(labelled))
            else:
                order = rng.permutation(len(remaining))
            labelled += [int(i) for i in remaining[order[:take]]]
            chosen = np.array(labelled, dtype=np.int64)
            rows = [self.rows[i] for i in chosen]
            held = held_back_mask(rows, np.ones(len(rows), dtype=bool))
            started = time.perf_counter()
            candidate = self.train(chosen[~held])
            problems = self.gate(active, candidate, chosen[held])
            if not problems:
                active = candidate
            tried = test_figures(candidate, test_items, test_y)
            curve.append({"labels": len(labelled), "promoted": not problems, "why_not": problems,
                          "train_seconds": round(time.perf_counter() - started, 1),
                          **test_figures(active, test_items, test_y),
                          "candidate": {key: tried[key] for key in ("auroc", "uncertain_share", "fpr_at_threshold")}})
        return curve


def labels_to_reach(curve: list[dict[str, Any]], auroc: float) -> int | None:
    return next((point["labels"] for point in curve if point["auroc"] >= auroc), None)


def plot(path: Path, curves: dict[str, list[dict[str, Any]]], left_out: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for ordering, curve in curves.items():
        x = [point["labels"] for point in curve]
        line = left.plot(x, [point["auroc"] for point in curve], marker="o", label=f"{ordering} (active)")[0]
        right.plot(x, [point["uncertain_share"] for point in curve], marker="o", label=f"{ordering} (active)",
                   color=line.get_color())
        tried = [(point["labels"], point["candidate"]) for point in curve if "candidate" in point]
        left.plot([n for n, _ in tried], [c["auroc"] for _, c in tried], linestyle="--", color=line.get_color(),
                  alpha=0.6, label=f"{ordering} (each round's candidate)")
        right.plot([n for n, _ in tried], [c["uncertain_share"] for _, c in tried], linestyle="--",
                   color=line.get_color(), alpha=0.6, label=f"{ordering} (each round's candidate)")
    left.set_title(f"AUROC on the {left_out} test half")
    right.set_title(f"share of uncertain verdicts ({left_out} test half)")
    for axis in (left, right):
        axis.set_xlabel("reviewer labels spent")
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+",
                        default=[SHARED / "data" / "detect", SHARED / "data" / "gpt2-output"],
                        help="labelled JSONL files or folders (a folder's short-passage files are skipped, as the "
                             "demo skips them)")
    parser.add_argument("--max-texts", type=int, default=None, help="a stratified sample (the demo's sampler)")
    parser.add_argument("--stacker", default=DEFAULT_STACKER, help="the recipe (default: the shipped one)")
    parser.add_argument("--left-out", default="squad")
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--per-round", type=int, default=25)
    parser.add_argument("--target-fpr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only-cached", action="store_true",
                        help="use only texts whose statistics are already cached (a subset scored earlier)")
    parser.add_argument("--out", type=Path, default=None, help="where the PNG goes (default <home>/bench)")
    args = parser.parse_args()
    from detect.onnx_scorer import build_scorer
    from provenance.runtime import load_configured_model

    settings = Settings()
    lm = load_configured_model(settings, None)
    scorer = build_scorer(lm, backend=settings.scorer_backend, quantize=settings.scorer_quantize,
                          batch_tokens=settings.detect_batch_tokens, cache_root=settings.home / "cache" / "onnx")
    cache = StatisticsCache(settings.home / "cache" / "perplexity-stats.sqlite")
    files = [file for path in args.data
             for file in ([f for f in sorted(path.glob("*.jsonl")) if "short" not in f.name] if path.is_dir()
                          else [path])]
    rows = prepare(files, max_texts=args.max_texts, seed=args.seed).rows
    if args.only_cached:
        known = cache.get_many(scorer.identity, [text_key(row.text) for row in rows])
        rows = [row for row in rows if text_key(row.text) in known]
    items = score_rows(scorer, rows, cache)
    policy = AbstainPolicy()
    keep = [i for i, item in enumerate(items) if policy.reason(item) is None]
    items, rows = [items[i] for i in keep], [rows[i] for i in keep]
    started = time.perf_counter()
    simulation = Simulation(items, rows, args.left_out, args.target_fpr, args.seed, args.stacker)
    curves = {ordering: simulation.run(ordering, args.labels, args.per_round) for ordering in ORDERINGS}
    out = args.out or settings.home / "bench"
    png = plot(out / "review_loop.png", curves, args.left_out)
    first, last = curves["uncertainty"][0], curves["uncertainty"][-1]
    random_final = curves["random"][-1]["auroc"]
    reach = labels_to_reach(curves["uncertainty"], random_final)
    split = {"left_out": args.left_out, "pool": len(simulation.pool), "test_half": len(simulation.test),
             "test_human": int((simulation.labels[simulation.test] == 0).sum()),
             "base_train": len(simulation.base_train), "base_test": len(simulation.base_test),
             "only_cached": args.only_cached, "scorer": scorer.identity, "stacker": args.stacker,
             "data": [str(path) for path in args.data]}
    result = {
        "split": split, "curves": curves, "png": str(png), "seconds": round(time.perf_counter() - started, 1),
        "goals": {
            "auroc_gain": round(last["auroc"] - first["auroc"], 4),
            "uncertain_share_relative_drop": round(1 - last["uncertain_share"] / first["uncertain_share"], 4)
            if first["uncertain_share"] else None,
            "fpr_at_threshold_final": last.get("fpr_at_threshold"), "target_fpr": args.target_fpr,
            "random_final_auroc": random_final, "uncertainty_labels_to_reach_random_final": reach,
            "random_labels": curves["random"][-1]["labels"],
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
