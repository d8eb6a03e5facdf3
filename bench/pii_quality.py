"""PII span-level quality on the round-three splits (docs/guides/pii.md): ours vs Presidio's defaults.

Splits (``detect.pii.splits.protocol_splits``, fixed before any rule of round three was written):
development = generated_small.json + generated_large.json template folds 0-3 (documents read while writing
rules); untouched = generated_large.json template fold 4 (never printed or listed; only this script's aggregate
figures, and only with ``--untouched``). Scorer: ``detect.pii.evaluation`` (character IoU >= 0.5, adjacent spans
merged, TITLE/PREFIX not PII, F2). Presidio's defaults = ``AnalyzerEngine()`` default registry and NER mapping
with the same small spaCy model, ``analyze()`` per document; ours = ``get_analyzer().analyze_batch``. Both run on
the same documents in the same process. Prints one JSON object.

    python bench/pii_quality.py [--untouched] [--extra FILE.json ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pii_data import SHARED_PII

from detect.pii import PIIConfig, get_analyzer
from detect.pii.baseline import presidio_default_analyzer
from detect.pii.evaluation import Sample, Span, load_presidio_json, score
from detect.pii.splits import FOLDS, UNTOUCHED_FOLD, protocol_splits, skeleton


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {"pii": report["pii"], "per_type": report["per_type"], "docs_per_s": report["docs_per_s"]}


def compare(samples: list[Sample], ours: list[list[Span]], theirs: list[list[Span]],
            seconds: tuple[float, float]) -> dict[str, Any]:
    mine = score(samples, ours, seconds=seconds[0]).to_dict()
    base = score(samples, theirs, seconds=seconds[1]).to_dict()
    recall_gap = {}
    for name, row in base["per_type"]["recall"].items():
        if row["pii"] and row["recall"] is not None:
            recall_gap[name] = round(mine["per_type"]["recall"].get(name, {"recall": 0.0})["recall"] - row["recall"], 4)
    return {"documents": len(samples), "templates": len({skeleton(s) for s in samples}),
            "ours": _summary(mine), "presidio_defaults": _summary(base),
            "f2_gain": round(mine["pii"]["f2"] - base["pii"]["f2"], 4), "recall_gap_by_gold_type": recall_gap}


def predict(samples: list[Sample]) -> tuple[list[list[Span]], list[list[Span]], tuple[float, float]]:
    import time

    texts = [s.text for s in samples]
    ours = get_analyzer(PIIConfig())
    theirs = presidio_default_analyzer()
    started = time.perf_counter()
    mine = [[Span(e.start, e.end, e.type) for e in found] for found in ours.analyze_batch(texts)]
    middle = time.perf_counter()
    base = [[Span(r.start, r.end, r.entity_type) for r in theirs.analyze(t, language="en")] for t in texts]
    return mine, base, (middle - started, time.perf_counter() - middle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=Path, default=SHARED_PII / "generated_large.json")
    parser.add_argument("--small", type=Path, default=SHARED_PII / "generated_small.json")
    parser.add_argument("--untouched", action="store_true",
                        help="also score the untouched split (aggregate figures only)")
    parser.add_argument("--extra", nargs="*", type=Path, default=[],
                        help="other presidio-format files, scored whole (name their provenance when reporting)")
    args = parser.parse_args()
    missing = [str(p) for p in (args.large, args.small, *args.extra) if not p.is_file()]
    if missing:
        sys.exit(f"missing evaluation data: {', '.join(missing)}")
    get_analyzer(PIIConfig()).analyze("warm-up John Smith 555-123-4567")
    large, small = load_presidio_json(args.large), load_presidio_json(args.small)
    development, untouched = protocol_splits(large, small)
    report: dict[str, Any] = {"protocol": "docs/guides/pii.md#evaluation", "iou_threshold": 0.5,
                              "model": PIIConfig().model, "splits": {
                                  "development": f"{args.small.name} + {args.large.name} template folds "
                                                 f"{sorted(set(range(FOLDS)) - {UNTOUCHED_FOLD})}",
                                  "untouched": f"{args.large.name} template fold {UNTOUCHED_FOLD}"}}
    mine, base, seconds = predict(development)
    report["development"] = compare(development, mine, base, seconds)
    print(f"development: {len(development)} documents, F2 ours {report['development']['ours']['pii']['f2']}"
          f" vs defaults {report['development']['presidio_defaults']['pii']['f2']}", file=sys.stderr)
    n_small = len(small)
    report["development_parts"] = {
        args.small.name: compare(development[:n_small], mine[:n_small], base[:n_small], (0.0, 0.0)),
        f"{args.large.name} folds": compare(development[n_small:], mine[n_small:], base[n_small:], (0.0, 0.0))}
    if args.untouched:
        mine, base, seconds = predict(untouched)
        report["untouched"] = compare(untouched, mine, base, seconds)
        print(f"untouched: {len(untouched)} documents, F2 ours {report['untouched']['ours']['pii']['f2']}"
              f" vs defaults {report['untouched']['presidio_defaults']['pii']['f2']}", file=sys.stderr)
    for path in args.extra:
        samples = load_presidio_json(path)
        mine, base, seconds = predict(samples)
        report.setdefault("extra", {})[path.name] = compare(samples, mine, base, seconds)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
