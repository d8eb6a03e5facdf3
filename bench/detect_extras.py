"""Issue 15's candidate signals on left-out splits: Binoculars, the hidden-state probe, and sampled training text.

Each candidate is judged against the shipped ensemble and Fast-DetectGPT on the *same* held-out texts:

* leave-one-domain-out and leave-one-generator-out over ../shared/data/detect (``detect.evaluation.holdout_splits``);
* leave-one-sampling-out over text the platform writes itself: a second model that shares the scorer's tokenizer
  (``--second-model``, e.g. ``provenance model distill``'s student) continues human prefixes with pure and with
  nucleus sampling (``detect.sampled``). For each setting the table shows the ensemble trained on the labelled
  data alone (what ships today: does it read that tail the right way round?) and trained with the *other*
  setting's text added (does teaching one tail carry over?).

Rows per split: AUROC (and FPR at the shipped threshold where there is one) of fast_detectgpt, the best single
statistic on that split, binoculars (both orientations), the probe, the ensemble, and the ensemble stacked with
each candidate (a logistic regression over the ensemble's out-of-fold log-odds and the candidate, fitted on the
training side only). A candidate is worth shipping only if it wins on left-out splits.

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/detect_extras.py \
        --second-model <home>/models/student [--only-cached] [--max-texts N] [--sampled 150]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from detect.binoculars import BinocularsScorer
from detect.cache import StatisticsCache, text_key
from detect.classifier import ScoredText
from detect.data import LabelledText
from detect.ensemble import ZERO_SHOT_DETECTORS, AbstainPolicy, group_folds, threshold_at_fpr, train_ensemble
from detect.evaluation import holdout_splits
from detect.metrics import auroc, point_metrics
from detect.onnx_scorer import build_scorer
from detect.perplexity import MACHINE_DIRECTION
from detect.probe import build_probe, probe_margin
from detect.sampled import prefix_of, sample_continuations
from detect.text import normalize_for_detection
from detect.training import prepare, score_rows
from generator import ModelRequest, load_model
from provenance.runtime import load_configured_model
from provenance.settings import Settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CANDIDATES = ("binoculars", "binoculars_reversed", "probe")


class ExtrasCache:
    """Binoculars scores and pooled states per text key, in one .npz per scorer pair (safe to delete)."""

    def __init__(self, root: Path, identity: str) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / f"extras-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.npz"
        self.rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if self.path.exists():
            data = np.load(self.path)
            for key, score, state in zip(data["keys"], data["scores"], data["states"], strict=True):
                self.rows[str(key)] = (score, state)

    def save(self) -> None:
        keys = sorted(self.rows)
        np.savez(self.path, keys=np.array(keys), scores=np.stack([self.rows[k][0] for k in keys]),
                 states=np.stack([self.rows[k][1] for k in keys]).astype(np.float16))


def extras_for(pair: BinocularsScorer, cache: ExtrasCache, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) signed Binoculars scores (higher = machine) and (n, d) pooled states, computing what is missing."""
    keys = [text_key(text) for text in texts]
    missing = sorted({k: i for i, k in enumerate(keys) if k not in cache.rows}.values())
    for start in range(0, len(missing), 128):
        chunk = missing[start: start + 128]
        scores, states = pair.score([texts[i] for i in chunk], pooled=True)
        for i, score, state in zip(chunk, scores, states, strict=True):
            cache.rows[keys[i]] = (np.array([-score.score, -score.score_reversed]), state)
        cache.save()
        print(json.dumps({"stage": "extras", "done": min(start + 128, len(missing)), "of": len(missing)}),
              flush=True)
    return (np.stack([cache.rows[k][0] for k in keys]), np.stack([cache.rows[k][1] for k in keys]).astype(np.float32))


def sampled_rows(second_lm, rows: list[LabelledText], per_setting: int, new_tokens: int,
                 seed: int) -> list[LabelledText]:
    """Pure and nucleus continuations of ``per_setting`` human prefixes (distinct groups), labelled machine."""
    rng = np.random.default_rng(seed)
    humans, seen = [], set()
    for i in rng.permutation(len(rows)):
        row = rows[i]
        if row.label == 0 and row.group not in seen:
            seen.add(row.group)
            humans.append(row)
    out: list[LabelledText] = []
    for offset, setting in enumerate(("pure", "nucleus")):
        chosen = humans[offset * per_setting: (offset + 1) * per_setting]  # disjoint prefixes per setting
        prefixes = [prefix_of(second_lm.tokenizer, row.text) for row in chosen]
        started = time.perf_counter()
        texts = sample_continuations(second_lm, prefixes, setting, new_tokens=new_tokens, seed=seed)
        print(json.dumps({"stage": "sampled", "setting": setting, "texts": len(texts),
                          "seconds": round(time.perf_counter() - started, 1)}), flush=True)
        for row, sampled in zip(chosen, texts, strict=True):
            out.append(LabelledText(normalize_for_detection(sampled.text), 1, row.domain, f"second-{setting}",
                                    "sampled", row.pair, row.group))
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _stack(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, target_fpr: float) -> tuple[np.ndarray, float]:
    keep = np.all(np.isfinite(train_x), axis=1)
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
    model.fit(train_x[keep], train_y[keep])
    oof = model.decision_function(train_x[keep])  # in-sample on train: only used for the threshold
    threshold = threshold_at_fpr(oof[train_y[keep] == 0], target_fpr)
    return model.decision_function(np.nan_to_num(test_x)), threshold


def evaluate_split(name: str, items: list[ScoredText], labels: np.ndarray, groups: np.ndarray, domains: np.ndarray,
                   extras: np.ndarray, states: np.ndarray, train: np.ndarray, test: np.ndarray,
                   target_fpr: float) -> dict:
    started = time.perf_counter()
    result = train_ensemble([items[i] for i in train], labels[train], groups[train], domains[train],
                            target_fpr=target_fpr, n_splits=3)
    ensemble, y = result.ensemble, labels[test]
    test_items = [items[i] for i in test]
    row: dict = {"n_train": len(train), "n_test_human": int((y == 0).sum()), "n_test_machine": int(y.sum())}
    singles = {stat: np.array([getattr(item.stats, stat) * MACHINE_DIRECTION[stat] for item in test_items])
               for stat in ZERO_SHOT_DETECTORS}
    single_auroc = {stat: auroc(y, values) for stat, values in singles.items()}
    best = max(single_auroc, key=lambda s: single_auroc[s] if np.isfinite(single_auroc[s]) else -1)
    row["fast_detectgpt"] = round(single_auroc["fast_detectgpt"], 4)
    row["best_single"], row["best_single_auroc"] = best, round(single_auroc[best], 4)
    p_test = ensemble.probabilities(test_items)
    row["ensemble"] = {k: round(v, 4) for k, v in point_metrics(y, p_test, ensemble.thresholds.machine).items()}
    row["binoculars"] = round(auroc(y, extras[test, 0]), 4)
    row["binoculars_reversed"] = round(auroc(y, extras[test, 1]), 4)
    # The probe: fitted on the training side; its out-of-fold margins there feed the stack below.
    probe_oof = np.full(len(train), np.nan)
    for fold_train, fold_test in group_folds(groups[train], labels[train], 3, 0):
        fitted = build_probe().fit(states[train][fold_train], labels[train][fold_train])
        probe_oof[fold_test] = probe_margin(fitted, states[train][fold_test])
    probe_test = probe_margin(build_probe().fit(states[train], labels[train]), states[test])
    row["probe"] = round(auroc(y, probe_test), 4)
    ens_oof = _logit(result.oof_scores["ensemble"])
    candidates = {"binoculars": (extras[train, :1], extras[test, :1]),
                  "binoculars_reversed": (extras[train, 1:], extras[test, 1:]),
                  "probe": (probe_oof[:, None], probe_test[:, None])}
    for candidate, (train_x, test_x) in candidates.items():
        scores, threshold = _stack(np.hstack([ens_oof[:, None], train_x]), labels[train],
                                   np.hstack([_logit(p_test)[:, None], test_x]), target_fpr)
        row[f"ensemble+{candidate}"] = {k: round(v, 4) for k, v in point_metrics(y, scores, threshold).items()}
    row["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps({"stage": "split", "split": name, **{k: row[k] for k in ("fast_detectgpt", "binoculars",
                                                                               "probe")},
                      "ensemble": row["ensemble"]["auroc"]}), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "detect")
    parser.add_argument("--second-model", required=True, help="a model sharing the scorer's tokenizer")
    parser.add_argument("--max-texts", type=int, default=None)
    parser.add_argument("--only-cached", action="store_true", help="only texts whose statistics are cached")
    parser.add_argument("--sampled", type=int, default=150, help="prefixes per sampling setting (0: none)")
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--target-fpr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--teach", action="store_true",
                        help="also train the domain/generator splits with the sampled text (outside their test "
                             "groups and held-out domain): does teaching the tails cost the labelled splits?")
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"detection data not found at {args.data}; pass --data DIR")
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    settings = Settings()
    lm = load_configured_model(settings.model_copy(update={"quantize": "none"}))
    scorer = build_scorer(lm, backend=settings.scorer_backend, quantize=settings.scorer_quantize,
                          batch_tokens=settings.detect_batch_tokens, cache_root=settings.home / "cache" / "onnx")
    second = load_model(args.second_model, ModelRequest(device="cpu", offline=True))
    pair = BinocularsScorer(lm, second)
    cache = StatisticsCache(settings.home / "cache" / "perplexity-stats.sqlite")
    files = sorted(args.data.glob("*.jsonl")) if args.data.is_dir() else [args.data]
    rows = prepare(files, max_texts=args.max_texts).rows
    if args.only_cached:
        known = cache.get_many(scorer.identity, [text_key(row.text) for row in rows])
        rows = [row for row in rows if text_key(row.text) in known]
    sampled = sampled_rows(second, rows, args.sampled, args.new_tokens, args.seed) if args.sampled else []
    everything = rows + sampled
    started = time.perf_counter()
    items = score_rows(scorer, everything, cache)
    scoring_s = time.perf_counter() - started
    started = time.perf_counter()
    extras, states = extras_for(pair, ExtrasCache(settings.home / "cache", pair.identity), [r.text for r in everything])
    extras_s = time.perf_counter() - started
    policy = AbstainPolicy()
    keep = np.array([policy.reason(item) is None for item in items])
    items = [item for item, k in zip(items, keep, strict=True) if k]
    kept = [row for row, k in zip(everything, keep, strict=True) if k]
    extras, states = extras[keep], states[keep]
    labels = np.array([row.label for row in kept], dtype=np.int64)
    groups = np.array([row.group for row in kept])
    domains = np.array([row.domain for row in kept])
    generators = np.array([row.generator for row in kept])
    is_sampled = np.array([row.source == "sampled" for row in kept])
    base = np.flatnonzero(~is_sampled)

    def split_rows(column: np.ndarray, subset: np.ndarray, skip=("human",), teach: bool = False) -> dict:
        out = {}
        for value, train, test in holdout_splits(labels[subset], groups[subset], column[subset], skip=skip):
            train, test = subset[train], subset[test]
            if teach:  # sampled rows outside the test prompts and the held-out value join the training side
                extra = np.flatnonzero(is_sampled & ~np.isin(groups, groups[test]) & (column != value))
                train = np.concatenate([train, extra])
            out[value] = evaluate_split(value, items, labels, groups, domains, extras, states, train, test,
                                        args.target_fpr)
        return out

    report: dict = {
        "scorer": scorer.identity, "second_model": second.name, "pair": pair.identity,
        "texts": {"labelled": int(len(base)), "sampled": int(is_sampled.sum())},
        "seconds": {"statistics": round(scoring_s, 1), "binoculars_and_states": round(extras_s, 1)},
        "load_average": os.getloadavg()[0],
        "leave_one_domain_out": split_rows(domains, base, teach=args.teach),
        "leave_one_generator_out": split_rows(generators, base, teach=args.teach),
        "taught_with_sampled_text": args.teach,
    }
    if is_sampled.any():
        sampling = np.where(is_sampled, [g.removeprefix("second-") for g in generators],
                            np.where(labels == 0, "human", "labelled"))
        everyone = np.arange(len(kept))
        taught = split_rows(sampling, everyone, skip=("human", "labelled"))
        untaught = {}
        for value, train, test in holdout_splits(labels, groups, sampling, skip=("human", "labelled")):
            plain = train[~is_sampled[train]]  # the labelled data alone: what ships today
            untaught[value] = evaluate_split(value, items, labels, groups, domains, extras, states, plain, test,
                                             args.target_fpr)
        report["leave_one_sampling_out"] = {"trained_on_labelled_only": untaught, "trained_with_other_setting": taught}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
