"""Error listing for rule development, restricted by the protocol to the development folds one may read.

Prints the missed gold spans and the false positives of ours on the *development* split only
(``detect.pii.splits.protocol_splits``: generated_small.json and the generated_large.json template folds other
than the untouched one). There is no option to list the untouched split: it is looked at only through the
aggregate metrics of ``bench/pii_quality.py --untouched``. Output is for the terminal; nothing it prints belongs
in code, comments or tests.

    python bench/pii_errors.py [--type CREDIT_CARD] [--max 40] [--skip 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pii_data import SHARED_PII

from detect.pii import PIIConfig, get_analyzer
from detect.pii.evaluation import _match, _prepare, load_presidio_json
from detect.pii.splits import protocol_splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=Path, default=SHARED_PII / "generated_large.json")
    parser.add_argument("--small", type=Path, default=SHARED_PII / "generated_small.json")
    parser.add_argument("--type", default=None, help="only gold spans / predictions of this label")
    parser.add_argument("--max", type=int, default=40)
    parser.add_argument("--skip", type=int, default=0, help="documents with errors to pass over first")
    args = parser.parse_args()
    if not args.large.is_file() or not args.small.is_file():
        sys.exit("missing evaluation data under ../shared/data/pii")
    chosen, _ = protocol_splits(load_presidio_json(args.large), load_presidio_json(args.small))
    analyzer = get_analyzer(PIIConfig())
    shown = 0
    for sample, found in zip(chosen, analyzer.analyze_batch([s.text for s in chosen]), strict=True):
        from detect.pii.evaluation import Span

        predicted = [Span(e.start, e.end, e.type) for e in found]
        gold = _prepare(sample.text, sample.gold, True)
        pred = _prepare(sample.text, predicted, True)
        hit, credited = _match(sample.text, gold, pred, 0.5)
        misses = [g for i, g in enumerate(gold) if i not in hit]
        wrong = [p for i, p in enumerate(pred) if i not in credited]
        labels = {(g.start, g.end): g.label for g in sample.gold}
        if args.type:
            misses = [g for g in misses if any(s.label == args.type and g.start <= s.start < g.end
                                                for s in sample.gold)]
            wrong = [p for p in wrong if any(e.type == args.type and p.start <= e.start < p.end for e in found)]
        if not misses and not wrong:
            continue
        shown += 1
        if shown <= args.skip:
            continue
        print("----", repr(sample.text[:300]))
        for g in misses:
            inner = [labels[k] for k in labels if g.start <= k[0] < g.end]
            print("  MISS", inner, repr(sample.text[g.start:g.end]))
        for p in wrong:
            types = [e.type for e in found if p.start <= e.start < p.end]
            print("  FP  ", types, repr(sample.text[p.start:p.end]))
        if shown - args.skip >= args.max:
            break


if __name__ == "__main__":
    main()
