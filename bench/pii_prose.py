"""How much ordinary prose the redactor marks: spans per 1,000 words, ours vs Presidio's defaults, same passages.

Text: human-written passages with no gold labels, from three sources beside the repo (chosen by a hash of the
passage, so the sample does not depend on file order): news summaries and encyclopaedic paragraphs
(``../shared/data/detect/*.jsonl``, ``label == "human"``, one passage per ``pair``), Wikipedia paragraphs
(``../shared/corpus/wikipedia_en_part*.txt``) and novels (``../shared/corpus/gutenberg_*.txt``).
Real news names real people and places, so the right rate is not zero; what the figure guards against is a
redactor that turns sentence starts, headlines and product names into placeholders wholesale. ``--show N``
prints N marked passages to stderr (for reading; nothing from them belongs in code or tests).

    python bench/pii_prose.py [--passages 600] [--show 0]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from detect.pii import PIIConfig, get_analyzer
from detect.pii.baseline import presidio_default_analyzer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
_WORDS = re.compile(r"\S+")


def _pick(items: list[str], count: int, salt: str) -> list[str]:
    ranked = sorted(items, key=lambda s: hashlib.sha256((salt + s).encode("utf-8")).digest())
    return ranked[:count]


def _paragraphs(path: Path, min_words: int = 40, max_chars: int = 2000) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return [p[:max_chars] for p in paragraphs if len(p.split()) >= min_words and not p.startswith("=")]


def passages(per_source: int) -> dict[str, list[str]]:
    """Passages per source (empty where the shared data is missing)."""
    human: dict[str, str] = {}
    for path in sorted((SHARED / "data" / "detect").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("label") == "human":
                human.setdefault(f"{row.get('domain', path.stem.split('_')[0])}:{row['pair']}", row["text"])
    wiki = [p for path in sorted((SHARED / "corpus").glob("wikipedia_en_part*.txt")) for p in _paragraphs(path)]
    novels = [p for path in sorted((SHARED / "corpus").glob("gutenberg_*.txt")) for p in _paragraphs(path)]
    return {"detect_human_news_and_qa": _pick(list(human.values()), per_source, "prose-a"),
            "wikipedia": _pick(wiki, per_source, "prose-b"), "gutenberg": _pick(novels, per_source, "prose-c")}


def rates(texts: list[str], found: list[list[tuple[str, int, int]]]) -> dict[str, Any]:
    words = sum(len(_WORDS.findall(t)) for t in texts)
    by_type = Counter(kind for spans in found for kind, _, _ in spans)
    total = sum(by_type.values())
    return {"words": words, "spans": total, "spans_per_1000_words": round(1000 * total / words, 2) if words else None,
            "per_type_per_1000_words": {k: round(1000 * v / words, 2) for k, v in by_type.most_common()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=600, help="passages per source")
    parser.add_argument("--show", type=int, default=0)
    args = parser.parse_args()
    sources = passages(args.passages)
    if not any(sources.values()):
        sys.exit(f"no prose found under {SHARED}")
    ours = get_analyzer(PIIConfig())
    theirs = presidio_default_analyzer()
    report: dict[str, Any] = {"load_average_before": [round(x, 2) for x in os.getloadavg()], "sources": {}}
    all_texts: list[str] = []
    all_ours: list[list[tuple[str, int, int]]] = []
    all_theirs: list[list[tuple[str, int, int]]] = []
    for name, texts in sources.items():
        mine = [[(e.type, e.start, e.end) for e in found] for found in ours.analyze_batch(texts)]
        base = [[(r.entity_type, r.start, r.end) for r in theirs.analyze(t, language="en")] for t in texts]
        report["sources"][name] = {"passages": len(texts), "ours": rates(texts, mine),
                                   "presidio_defaults": rates(texts, base)}
        all_texts += texts
        all_ours += mine
        all_theirs += base
    report["all"] = {"passages": len(all_texts), "ours": rates(all_texts, all_ours),
                     "presidio_defaults": rates(all_texts, all_theirs)}
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    for text, spans in list(zip(all_texts, all_ours, strict=True))[:args.show]:
        marked = text
        for kind, start, end in sorted(spans, key=lambda s: -s[1]):
            marked = f"{marked[:start]}[{kind}:{marked[start:end]}]{marked[end:]}"
        print("----", marked[:1200], file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
