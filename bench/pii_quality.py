"""PII span-level quality under the template-grouped protocol (bench/README.md): ours vs Presidio's defaults.

Splits (``detect.pii.splits``): generated_large.json cut into K folds over template skeletons (development;
``--read-folds`` names the folds whose errors were read while writing rules, the others are held out), and
validation = generated_small.json documents whose skeleton does not occur in generated_large.json (aggregate
metrics only). Scorer: ``detect.pii.evaluation`` (character IoU >= 0.5, adjacent spans merged, TITLE/PREFIX
not PII, F2). Presidio's defaults = ``AnalyzerEngine()`` default registry and NER mapping with the same small
spaCy model, ``analyze()`` per document; ours = ``get_analyzer().analyze_batch``. Both run on the same
documents in the same process. Prints one JSON object.

    python bench/pii_quality.py [--folds 5] [--read-folds 0,1,2,3] [--extra FILE.json ...]
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
from detect.pii.splits import group_kfold, skeleton, unseen_templates


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
    parser.add_argument("--development", type=Path, default=SHARED_PII / "generated_large.json")
    parser.add_argument("--validation-source", type=Path, default=SHARED_PII / "generated_small.json")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--read-folds", default="0,1,2,3",
                        help="development folds whose individual errors were read (reported, not held out)")
    parser.add_argument("--extra", nargs="*", type=Path, default=[],
                        help="other presidio-format files, scored whole (name their provenance when reporting)")
    parser.add_argument("--skip-folds", action="store_true", help="validation (and --extra) only")
    args = parser.parse_args()
    missing = [str(p) for p in (args.development, args.validation_source, *args.extra) if not p.is_file()]
    if missing:
        sys.exit(f"missing evaluation data: {', '.join(missing)}")
    read = {int(f) for f in args.read_folds.split(",") if f.strip()}
    get_analyzer(PIIConfig()).analyze("warm-up John Smith 555-123-4567")
    development = load_presidio_json(args.development)
    validation = unseen_templates(load_presidio_json(args.validation_source), development)
    report: dict[str, Any] = {"protocol": "bench/README.md#pii", "iou_threshold": 0.5, "model": PIIConfig().model,
                              "development": args.development.name, "validation_source": args.validation_source.name}
    mine, base, seconds = predict(validation)
    report["validation_unseen_templates"] = compare(validation, mine, base, seconds)
    held_out = report["validation_unseen_templates"]
    print(f"validation: {len(validation)} documents, F2 ours {held_out['ours']['pii']['f2']}"
          f" vs defaults {held_out['presidio_defaults']['pii']['f2']}", file=sys.stderr)
    if not args.skip_folds:
        fold_of = group_kfold(development, args.folds)
        mine, base, seconds = predict(development)
        folds = {}
        for fold in range(args.folds):
            index = [i for i, f in enumerate(fold_of) if f == fold]
            part = compare([development[i] for i in index], [mine[i] for i in index], [base[i] for i in index],
                           (0.0, 0.0))
            part["rules_read_this_fold"] = fold in read
            folds[str(fold)] = part
            print(f"fold {fold}{' (read)' if fold in read else ' (held out)'}: F2 ours {part['ours']['pii']['f2']}"
                  f" vs defaults {part['presidio_defaults']['pii']['f2']}", file=sys.stderr)
        held = [i for i, f in enumerate(fold_of) if f not in read]
        report["development_folds"] = folds
        report["development_held_out_folds"] = compare([development[i] for i in held], [mine[i] for i in held],
                                                       [base[i] for i in held], (0.0, 0.0))
    for path in args.extra:
        samples = load_presidio_json(path)
        mine, base, seconds = predict(samples)
        report.setdefault("extra", {})[path.name] = compare(samples, mine, base, seconds)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
