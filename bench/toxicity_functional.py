"""The functional suite (``detect.toxicity.functional``) against a toxicity bundle: accuracy per functionality.

Why a bench of its own: ``bench/toxicity_quality.py`` runs the suite on models it trains itself (one per
arm); this one runs it on a *shipped* bundle (``--bundle DIR``), at the scan threshold (``toxic``) and at the
blocking threshold (``blocked``), so a bundle can be checked before it is deployed. Baseline in the same run:
a bundle trained the old way is not available here, so the comparison is the suite's own floor, a
"flag everything naming a group" rule (right on every hateful case, wrong on every group-naming contrast).

    python bench/toxicity_functional.py --bundle ~/.provenance/detectors/toxicity
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from detect.toxicity import load_toxicity_bundle
from detect.toxicity.functional import functional_cases, functional_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, required=True, help="Toxicity bundle directory.")
    args = parser.parse_args()
    bundle = load_toxicity_bundle(args.bundle)
    cases = functional_cases()
    scores = bundle.model.score([case.text for case in cases])
    at_scan = functional_report(cases, [s.toxic for s in scores], [s.categories for s in scores])
    at_block = functional_report(cases, [s.blocked for s in scores],
                                 [s.categories if s.blocked else [] for s in scores])
    floor = functional_report(cases, [case.group is not None for case in cases],
                              [["hate"] if case.group is not None else [] for case in cases])
    print(json.dumps({"benchmark": "toxicity_functional", "bundle": bundle.version, "cases": len(cases),
                      "scan_threshold": round(bundle.model.threshold, 6),
                      "block_threshold": round(bundle.model.blocking_threshold(), 6),
                      "at_scan_threshold": at_scan, "at_block_threshold": at_block,
                      "baseline": "flag every text naming a group", "baseline_results": floor["per_family"],
                      "load_average_1min": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
