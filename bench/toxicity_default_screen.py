"""The shipped default toxicity bundle, scored the way users get it (``ToxicityService`` with default settings).

Train it first with the default recipe (``train_default_toxicity``: 3,000 rows per source, 3 folds, benign
genres found beside the data) into a home, then run this against that home. Reports, with their splits:
withheld share of the generator's own benign outputs (``bench/toxicity_generations.py``, evaluation and
calibration halves; neither is used by the toxicity training), the frozen functional suite v2 (ranked by the
blocking score max(hate, threat) and by ``p_toxic``; blocked shares), and the benign block rate per genre on
the REPORT documents of ``detect.toxicity.benign``. Baseline: none in this run (``bench/toxicity_blocking.py``
compares against main's blocking rule on the same rows).

    PROVENANCE_HOME=/tmp/home python -c "from pathlib import Path; from provenance.settings import Settings; \
        from provenance.toxicity import train_default_toxicity as t; t(Settings(), [Path('../shared/data/toxicity')])"
    python bench/toxicity_default_screen.py --home /tmp/home
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np

from detect.metrics import auroc
from detect.toxicity.benign import benign_passages, select
from detect.toxicity.suite import suite_cases
from provenance.settings import Settings
from provenance.toxicity import ToxicityService

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GENERATIONS = Path(__file__).resolve().parent / "results" / "toxicity_benign_generations.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--generations", type=Path, default=GENERATIONS)
    args = parser.parse_args()
    service = ToxicityService(Settings(home=args.home))
    out: dict[str, object] = {"benchmark": "toxicity_default_screen", "version": service.version,
                              "block_thresholds": service.block_thresholds()}
    if args.generations.is_file():
        rows = [json.loads(line) for line in args.generations.open(encoding="utf-8")]
        for split in ("evaluation", "calibration"):
            results = service.score([row["text"] for row in rows if row["split"] == split])
            out[f"generations_{split}"] = {"n": len(results), "withheld": sum(bool(r["blocked"]) for r in results),
                                           "flagged": sum(bool(r["toxic"]) for r in results)}
    cases = suite_cases()
    results = service.score([case.text for case in cases])
    labels = np.array([case.must_block for case in cases], dtype=int)
    block = np.array([max(r.get("block_scores", {}).get(k, 0.0) for k in ("hate", "threat")) for r in results])
    out["suite_v2"] = {
        "auroc_block_score": round(auroc(labels, block), 4),
        "auroc_p_toxic": round(auroc(labels, np.array([r["p_toxic"] for r in results])), 4),
        "blocked_must_block": round(float(np.mean([r["blocked"] for r, c in zip(results, cases, strict=True)
                                                   if c.must_block])), 4),
        "blocked_must_not_block": round(float(np.mean([r["blocked"] for r, c in zip(results, cases, strict=True)
                                                       if not c.must_block])), 4)}
    reported = select(benign_passages(SHARED), "report")
    genres: dict[str, dict[str, float]] = {}
    for genre in sorted({p.genre for p in reported}):
        results = service.score([p.text for p in reported if p.genre == genre])
        genres[genre] = {"n": len(results), "blocked": sum(bool(r["blocked"]) for r in results),
                         "flagged": sum(bool(r["toxic"]) for r in results)}
    total = sum(v["n"] for v in genres.values())
    blocked = sum(v["blocked"] for v in genres.values())
    genres["_overall"] = {"n": total, "blocked": blocked, "rate": round(blocked / total, 4)}
    out["benign_report_split"] = genres
    out["load"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
