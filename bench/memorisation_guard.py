"""The memorisation guard on the configured scorer and bundle: what it does to text the scorer was trained on,
to text it never saw, and to machine text with a trained-on passage quoted into it.

Three sets, each judged without the training-text index (the model-free signal only, the home `make demo` gave
before issue 25) and with it (the verified index of the home, `provenance model memorisation-index`):
``--paragraphs`` trained-on and held-out corpus paragraphs (``corpus_paragraphs``, ../shared/models/README.md's
split), and ``--quoted`` machine texts of ``--machine-file`` outside the bundle's training sample, each followed
by one trained-on paragraph (also under the pre-issue-25 rule: ``human`` at >= 50% of 8-grams indexed).
Prints one JSON object. Usage (after `make demo`, or `provenance detect train` + the index command):

    PROVENANCE_MODEL=../shared/models/gpt2-corpus-27m python bench/memorisation_guard.py --corpus ../shared/corpus
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from detect.bundle import short_text_hash
from detect.memorisation import MEMORISED_REASON, MemorisationGuard, corpus_paragraphs
from detect.scoring import judge_texts
from detect.text import normalize_for_detection
from provenance.detection import DetectionService
from provenance.settings import Settings

LABELS = ("machine", "uncertain", "human", "abstain")


def shares(verdicts: list) -> dict:
    counts = Counter(v.verdict for v in verdicts)
    with_reason = sum(1 for v in verdicts if v.verdict != "machine" and v.reasons
                      and v.reasons[0].startswith(MEMORISED_REASON))
    out = {label: round(counts[label] / max(len(verdicts), 1), 4) for label in LABELS}
    out["not_machine_with_reason"] = round(with_reason / max(len(verdicts), 1), 4)
    out["n"] = len(verdicts)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--paragraphs", type=int, default=300)
    parser.add_argument("--quoted", type=int, default=100)
    parser.add_argument("--machine-file", type=Path, default=Path("../shared/data/detect/xsum_gpt2-xl.jsonl"))
    args = parser.parse_args()
    service = DetectionService(Settings())
    scorer, bundle, cache, guard = service.scorer, service.bundle, service.cache, service.guard
    if guard.index is None:
        raise SystemExit("no memorisation index for this scorer: provenance model memorisation-index --corpus DIR")
    plain = MemorisationGuard()
    report: dict = {}
    for split, held_out in (("trained_on", False), ("held_out", True)):
        texts = corpus_paragraphs(args.corpus, held_out=held_out, count=args.paragraphs)
        report[f"{split}_paragraphs"] = {
            "without_index": shares(judge_texts(scorer, bundle, texts, cache=cache, guard=plain)),
            "with_index": shares(judge_texts(scorer, bundle, texts, cache=cache, guard=guard))}
    if args.quoted and args.machine_file.is_file():
        rows = [json.loads(line) for line in args.machine_file.read_text(encoding="utf-8").splitlines()]
        machine = [row["text"] for row in rows if row.get("label") == "machine"
                   and short_text_hash(normalize_for_detection(row["text"])) not in bundle.training_hashes]
        machine = machine[: args.quoted]
        quotes = corpus_paragraphs(args.corpus, held_out=False, count=len(machine), seed=1)
        quoted = [f"{text}\n\n{quote}" for text, quote in zip(machine, quotes, strict=False)]
        alone = judge_texts(scorer, bundle, machine, cache=cache, guard=plain)
        without = judge_texts(scorer, bundle, quoted, cache=cache, guard=plain)
        new = judge_texts(scorer, bundle, quoted, cache=cache, guard=guard)
        old = ["human" if (guard.index.overlap(normalize_for_detection(t)) or 0) >= 0.5 else v.verdict
               for t, v in zip(quoted, without, strict=True)]
        called = [i for i, v in enumerate(alone) if v.verdict == "machine"]
        report["machine_plus_quote"] = {
            "n": len(machine), "machine_alone": len(called),
            "kept_machine": {"without_index": sum(without[i].verdict == "machine" for i in called),
                             "old_rule": sum(old[i] == "machine" for i in called),
                             "new_guard": sum(new[i].verdict == "machine" for i in called)},
            "human": {"old_rule": old.count("human"), "new_guard": sum(v.verdict == "human" for v in new)}}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
