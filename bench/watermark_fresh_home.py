"""The issue-31 goals on the path a fresh home uses: `provenance generate` then `provenance watermark detect`.

A new data directory (``--home``, must be empty) gets its first watermark key from ``provenance generate`` (the
default scheme), or from ``provenance keys create --scheme S`` first when ``--scheme`` is given. Prompts: the first
24 words of paragraphs of HELD-OUT corpus documents (the prompt half of ``watermark_attacks.heldout_paragraphs``),
shuffled with ``--seed``; 120 new tokens, natural length (no forced minimum), seed ``--seed``. Then, with no extra
flags, ``watermark detect --jsonl`` on: the first 40 words of each continuation; the first 75 words after 30% of
the continuation's words were replaced by random words of the other held-out half; 2,000 consecutive 30-word
excerpts of every held-out paragraph (false positives). Prints one JSON object with the load average.

    python bench/watermark_fresh_home.py --home /tmp/fresh [--scheme lefthash] [--samples 120] [--seed 11]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import watermark_attacks as attacks  # noqa: E402
import watermark_edits as edits  # noqa: E402

CLI = str(Path(sys.executable).with_name("provenance"))


def run(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--scheme", default=None, help="create this key first (default: the new-key default)")
    parser.add_argument("--samples", type=int, default=120)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--model", default=str(attacks.SHARED / "models" / "gpt2-corpus-27m"))
    parser.add_argument("--corpus", default=str(attacks.SHARED / "corpus"))
    args = parser.parse_args()
    args.home.mkdir(parents=True, exist_ok=True)
    if any(args.home.iterdir()):
        raise SystemExit(f"{args.home} is not empty: the point is a fresh home")
    env = dict(os.environ, PROVENANCE_HOME=str(args.home), PROVENANCE_MODEL=args.model, OMP_NUM_THREADS="1")
    load_before = os.getloadavg()
    prompt_pars, other_pars, every = attacks.heldout_paragraphs(Path(args.corpus))
    random.Random(args.seed).shuffle(prompt_pars)
    prompts = args.home / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": " ".join(p.split()[:24])}) + "\n"
                               for p in prompt_pars[: args.samples]))
    if args.scheme:
        run(["keys", "create", "--scheme", args.scheme], env)
    out = run(["generate", "--prompts", str(prompts), "--max-new-tokens", "120", "--seed", str(args.seed),
               "--json"], env)
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    rng = np.random.default_rng(args.seed)
    pool = [w for p in other_pars for w in p.split()]
    cases = {"excerpt_40_words": [edits.excerpt(r["text"], 40) for r in rows],
             "substitution_30pct_75_words": [edits.excerpt(edits.substitute(r["text"], 0.3, rng, pool), 75)
                                             for r in rows],
             "human_30_words": attacks.human_excerpts(every, 30, 2000)}
    report: dict = {"benchmark": "watermark_fresh_home", "split": "held-out corpus documents",
                    "key": rows[0]["watermark"], "samples": len(rows), "seed": args.seed}
    for name, texts in cases.items():
        source = args.home / f"{name}.jsonl"
        source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
        records = [json.loads(line) for line in run(["watermark", "detect", str(source), "--jsonl"], env).splitlines()
                   if line.strip()]
        flagged = sum(bool(r["watermarked"]) for r in records)
        report[name] = {"texts": len(records), "watermarked": flagged, "rate": round(flagged / len(records), 4),
                        "too_short": sum(bool(r.get("too_short")) for r in records),
                        "mean_tokens_scored": round(float(np.mean([r["num_tokens_scored"] or 0 for r in records])), 1)}
    report["load_average_before"] = [round(x, 2) for x in load_before]
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
