"""Resident memory over a long PII run: RSS after 1,000 documents vs after ``--docs`` (default 100,000).

Documents are presidio-research paragraphs (synthetic if missing) each made unique with random tokens (a
reference code and a made-up surname), the worst case for spaCy's string store, which interns every unseen
string. Ours processes each block inside ``nlp.memory_zone()``; ``--no-zone`` turns that off to show the growth
it prevents. Prints one JSON object with RSS checkpoints (psutil, MiB) and docs/s.

    python bench/pii_memory.py [--docs 100000] [--no-zone]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import string
import sys
import time
from collections.abc import Iterator

import psutil
from pii_data import texts as bench_texts

from detect.pii import PIIAnalyzer, PIIConfig

CHECKPOINTS = (1_000, 5_000, 10_000, 25_000, 50_000, 75_000, 100_000, 250_000, 500_000, 1_000_000)


def unique_documents(count: int, seed: int = 0) -> Iterator[str]:
    base, _ = bench_texts(2000)
    rng = random.Random(seed)
    for index in range(count):
        code = "".join(rng.choices(string.ascii_uppercase + string.digits, k=10))
        surname = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 9))).capitalize()
        yield f"{base[index % len(base)]} Ref {code}, contact Mr. {surname}."


def rss_mib() -> float:
    return round(psutil.Process().memory_info().rss / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--no-zone", action="store_true", help="do not release spaCy strings between blocks")
    args = parser.parse_args()
    analyzer = PIIAnalyzer(PIIConfig())
    if args.no_zone:
        analyzer._nlp.memory_zone = contextlib.nullcontext  # type: ignore[method-assign]
    analyzer.analyze("warm-up John Smith 555-123-4567")
    checkpoints: dict[str, float] = {"start": rss_mib()}
    started = time.perf_counter()
    entities = 0
    for done, found in enumerate(analyzer.iter_analyze(unique_documents(args.docs)), start=1):
        entities += len(found)
        if done in CHECKPOINTS or done == args.docs:
            checkpoints[str(done)] = rss_mib()
            print(f"{done} docs: RSS {checkpoints[str(done)]} MiB, vocab strings "
                  f"{len(analyzer._nlp.vocab.strings)}", file=sys.stderr)
    seconds = time.perf_counter() - started
    after_1k, after_all = checkpoints.get("1000"), checkpoints[str(args.docs)]
    print(json.dumps({
        "documents": args.docs, "memory_zone": not args.no_zone, "rss_mib": checkpoints,
        "growth_after_1k_pct": round(100 * (after_all - after_1k) / after_1k, 2) if after_1k else None,
        "vocab_strings": len(analyzer._nlp.vocab.strings), "entities": entities,
        "docs_per_s": round(args.docs / seconds, 1), "seconds": round(seconds, 1)}, indent=2))


if __name__ == "__main__":
    main()
