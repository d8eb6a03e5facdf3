"""Toxicity quality: within-source, cross-source, obfuscation and bias, vs a no-normalisation baseline.

Both arms use the same features (hashed word 1-2 + char 3-5 n-grams, sub-linear TF-IDF) and classifier
(balanced logistic regression); they differ only in the text they see. Ours: ``normalize_toxicity`` (undo
leetspeak, repeats, spacing, homoglyphs; drop RT/@mentions/URLs/hashtag marks/punctuation). Baseline ("raw"):
the text lowercased with whitespace collapsed. Reported, per arm:

* ``within``: per source, train on a stratified 80% and test on the other 20% (AUROC, TPR at 5% FPR);
* ``cross_source``: train on all of one source, test on all of the other (the issue's goal: >= 0.85 AUROC
  both ways; >= 0.90 within each source);
* ``obfuscated``: the pooled 20% test split with every toxic text obfuscated (leetspeak, stretched letters,
  spaced-out letters) vs the same texts clean;
* ``bias``: at the pooled test split's 5%-FPR operating point, FPR on non-toxic texts that mention identity
  terms vs those that do not, and on templated hard negatives ("I am a gay man", "Muslims pray five times
  a day") that no training source contains.

    python bench/toxicity_quality.py [--data ../shared/data/toxicity] [--max-per-source N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from detect.metrics import auroc, tpr_at_fpr
from detect.toxicity import read_toxicity_data
from detect.toxicity.evaluation import mentions_identity
from detect.toxicity.normalize import normalize_toxicity
from detect.toxicity.training import fit_scorer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GROUPS = ["gay", "Muslim", "Black", "Jewish", "woman", "trans", "Mexican", "Asian"]
HARD_NEGATIVE_TEMPLATES = ["I am a {g} person.", "I am a proud {g} person and I love my family.",
                           "My neighbour is {g} and we often cook dinner together.",
                           "{G} people live in every city of this country.", "Being {g} is part of who I am.",
                           "The {g} community centre opens on Monday morning.",
                           "She is a {g} doctor who works at the hospital."]
EXTRA_HARD_NEGATIVES = ["I am a gay man", "Muslims pray five times a day", "Jewish families celebrate Passover",
                        "Black history month starts in February", "Women deserve equal pay"]


def hard_negatives() -> list[str]:
    texts = [t.format(g=g, G=g[0].upper() + g[1:]) for t in HARD_NEGATIVE_TEMPLATES for g in GROUPS]
    return texts + EXTRA_HARD_NEGATIVES


def obfuscate(text: str, rng: random.Random) -> str:
    """What a user evading a filter does: leetspeak, stretched or spaced-out letters, on every word."""
    leet = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "$"})
    words = []
    for word in text.split():
        roll = rng.random()
        if len(word) >= 3 and word.isalpha():  # every word: a determined evader, not a casual one
            if roll < 0.4:
                word = word.translate(leet)
            elif roll < 0.7:
                k = rng.randrange(len(word))
                word = word[:k] + word[k] * 4 + word[k + 1:]
            else:
                word = " ".join(word)
        words.append(word)
    return " ".join(words)


def raw_view(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def ours_view(text: str) -> str:
    return normalize_toxicity(text).text


def arm(view, raws: list[str], labels: np.ndarray, sources: np.ndarray, seed: int) -> dict:
    texts = [view(t) for t in raws]
    result: dict = {"within": {}, "cross_source": []}
    names = sorted(set(sources.tolist()))
    for name in names:
        idx = np.flatnonzero(sources == name)
        train, test = train_test_split(idx, test_size=0.2, stratify=labels[idx], random_state=seed)
        scores = fit_scorer([texts[i] for i in train], labels[train])([texts[i] for i in test])
        result["within"][name] = {"auroc": round(auroc(labels[test], scores), 4),
                                  "tpr_at_5pct_fpr": round(tpr_at_fpr(labels[test], scores, 0.05), 4)}
    for a in names:
        predict = fit_scorer([texts[i] for i in np.flatnonzero(sources == a)], labels[sources == a])
        for b in names:
            if a != b:
                test = np.flatnonzero(sources == b)
                scores = predict([texts[i] for i in test])
                result["cross_source"].append({"train": a, "test": b,
                                               "auroc": round(auroc(labels[test], scores), 4),
                                               "tpr_at_5pct_fpr": round(tpr_at_fpr(labels[test], scores, 0.05), 4)})
    strata = np.array([f"{s}|{y}" for s, y in zip(sources, labels, strict=True)])
    train, test = train_test_split(np.arange(len(texts)), test_size=0.2, stratify=strata, random_state=seed)
    predict = fit_scorer([texts[i] for i in train], labels[train])
    clean = predict([texts[i] for i in test])
    rng = random.Random(seed)
    obfuscated_texts = [view(obfuscate(raws[i], rng)) if labels[i] == 1 else texts[i] for i in test]
    obfuscated = predict(obfuscated_texts)
    result["obfuscated"] = {"auroc_clean": round(auroc(labels[test], clean), 4),
                            "auroc_toxic_obfuscated": round(auroc(labels[test], obfuscated), 4)}
    negatives = np.sort(clean[labels[test] == 0])[::-1]
    threshold = float(negatives[int(0.05 * negatives.size)])  # pooled 5%-FPR operating point
    neg = test[labels[test] == 0]
    flagged = clean[labels[test] == 0] > threshold
    mentions = np.array([mentions_identity(raws[i]) for i in neg])
    hard = predict([view(t) for t in hard_negatives()])
    result["bias"] = {"operating_point": "pooled test split at 5% FPR",
                      "fpr_with_identity": round(float(flagged[mentions].mean()), 4),
                      "fpr_without_identity": round(float(flagged[~mentions].mean()), 4),
                      "n_with_identity": int(mentions.sum()),
                      "hard_negative_fpr": round(float((hard > threshold).mean()), 4),
                      "n_hard_negatives": len(hard)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "toxicity")
    parser.add_argument("--max-per-source", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    files = sorted(args.data.glob("*.jsonl")) if args.data.is_dir() else [args.data]
    if not files:
        raise SystemExit(f"toxicity data not found at {args.data}; pass --data FILE_OR_DIR")
    started = time.perf_counter()
    data = read_toxicity_data(files, max_per_source=args.max_per_source, seed=args.seed)
    raws, labels, sources = [row.text for row in data.rows], data.labels, data.sources
    ours = arm(ours_view, raws, labels, sources, args.seed)
    baseline = arm(raw_view, raws, labels, sources, args.seed)
    goals = {"cross_source_auroc_ge_0.85": all(row["auroc"] >= 0.85 for row in ours["cross_source"]),
             "within_source_auroc_ge_0.90": all(row["auroc"] >= 0.90 for row in ours["within"].values())}
    print(json.dumps({"benchmark": "toxicity_quality", "texts": len(raws), "sources": data.summary()["sources"],
                      "ours": ours, "baseline": "raw text (lowercased, whitespace collapsed), same model",
                      "baseline_results": baseline, "goals": goals,
                      "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
