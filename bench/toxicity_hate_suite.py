"""``p_toxic`` of a home's default toxicity bundle on the functional suites, through the contract's CLI path.

What is measured is what a user (and the issue's judge) gets: ``provenance detect toxicity FILE --json`` with
the bundle in ``--home`` (train it with ``make demo`` or ``train_default_toxicity``), ranking by ``p_toxic``.
Suites: the third suite (``hate_suite``, frozen, never trained on): AUROC over hate vs not_hate, the mean
``p_toxic`` per functionality and of the abuse cases; regression checks: suite v2 (must_block) and the old
suite (group-directed hate vs its contrasts). Pass several homes to compare bundles in the same run.

    python bench/toxicity_hate_suite.py --home /tmp/new-home [--home /tmp/main-home]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from detect.metrics import auroc
from detect.toxicity.functional import HATE_FAMILY, functional_cases
from detect.toxicity.hate_suite import hate_suite_cases
from detect.toxicity.suite import suite_cases


def cli_scores(home: Path, texts: list[str]) -> np.ndarray:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "suite.jsonl"
        path.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts)))
        env = {**os.environ, "PROVENANCE_HOME": str(home)}
        done = subprocess.run([sys.executable, "-m", "provenance.cli", "detect", "toxicity", str(path), "--json"],
                              capture_output=True, text=True, env=env, check=True)
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return np.array([record["p_toxic"] for record in records])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, action="append", required=True)
    args = parser.parse_args()
    hs, v2, old = hate_suite_cases(), suite_cases(), functional_cases()
    texts = [c.text for c in hs] + [c.text for c in v2] + [c.text for c in old]
    out: dict[str, object] = {"benchmark": "toxicity_hate_suite", "load_start": subprocess.run(
        ["uptime"], capture_output=True, text=True).stdout.strip(), "homes": {}}
    for home in args.home:
        p = cli_scores(home, texts)
        p_hs, p_v2, p_old = p[:len(hs)], p[len(hs):len(hs) + len(v2)], p[len(hs) + len(v2):]
        mask = np.array([c.kind != "abuse" for c in hs])
        hate = np.array([c.kind == "hate" for c in hs], dtype=int)
        out["homes"][str(home)] = {
            "hate_suite_v3_p_toxic_auroc": round(auroc(hate[mask], p_hs[mask]), 3),
            "hate_suite_v3_n": {"hate": int(hate.sum()), "not_hate": int((mask & (hate == 0)).sum()),
                                "abuse": int((~mask).sum())},
            "hate_suite_v3_abuse_mean_p": round(float(p_hs[~mask].mean()), 3),
            "hate_suite_v3_mean_p": {name: round(float(p_hs[[c.functionality == name for c in hs]].mean()), 3)
                                     for name in sorted({c.functionality for c in hs})},
            "suite_v2_p_toxic_auroc": round(auroc(np.array([c.must_block for c in v2], dtype=int), p_v2), 3),
            "old_suite_p_toxic_auroc": round(auroc(np.array([c.family == HATE_FAMILY for c in old], dtype=int),
                                                   p_old), 3),
        }
    out["load_end"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
