"""Submission throughput and memory by input format, without scoring: `provenance scan`'s reading + staging.

Generates N short unique records (about 100 characters, synthetic words, no data file) as plain JSONL (the
baseline), gzipped JSONL and Parquet, then submits each into a fresh SQLite store exactly as `provenance scan`
does (real readers, hashing, bulk staging transactions, chunk rows), with the broker message replaced by a
no-op and back-pressure off (no worker scores anything). Reports records/s per format, the ratio to plain
JSONL of the same run, reading alone (no store) per format, and the process RSS sampled every 0.25 s: RSS
growth is measured from the end of the first 10% of records to the end, so a reader that keeps what it read
shows up as growth proportional to the file.

    python bench/submission_formats.py --records 2000000 --out /tmp/subbench
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
         "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey",
         "xray", "yankee", "zulu", "river", "stone", "cloud", "maple"]


def _texts(count: int, seed: int = 7):
    rng = random.Random(seed)
    for index in range(count):
        yield f"record {index} " + " ".join(rng.choices(WORDS, k=14))


def write_inputs(directory: Path, count: int) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    plain, packed, table = directory / "dump.jsonl", directory / "dump.jsonl.gz", directory / "dump.parquet"
    if not (plain.exists() and packed.exists() and table.exists()):
        schema = pa.schema([("id", pa.string()), ("text", pa.string())])
        with plain.open("w", encoding="utf-8") as out, gzip.open(packed, "wt", encoding="utf-8") as zipped, \
                pq.ParquetWriter(table, schema, compression="snappy") as writer:
            ids: list[str] = []
            texts: list[str] = []
            for index, text in enumerate(_texts(count)):
                line = json.dumps({"id": f"r{index}", "text": text}) + "\n"
                out.write(line)
                zipped.write(line)
                ids.append(f"r{index}")
                texts.append(text)
                if len(texts) >= 100_000:
                    writer.write_table(pa.table({"id": ids, "text": texts}, schema=schema))
                    ids, texts = [], []
            if texts:
                writer.write_table(pa.table({"id": ids, "text": texts}, schema=schema))
    return {"jsonl": plain, "jsonl.gz": packed, "parquet": table}


class RssSampler:
    """RSS of this process every ``interval`` seconds, with the number of records submitted at that moment."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.samples: list[tuple[int, int]] = []
        self.done = 0
        self._stop = threading.Event()
        self._process = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append((self.done, self._process.memory_info().rss))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((self.done, self._process.memory_info().rss))

    def growth(self, total: int) -> dict[str, Any]:
        after_warmup = [rss for done, rss in self.samples if done >= total * 0.1]
        if not after_warmup:
            return {}
        base, end, peak = after_warmup[0], after_warmup[-1], max(after_warmup)
        return {"rss_at_10pct_mb": round(base / 2**20, 1), "rss_end_mb": round(end / 2**20, 1),
                "rss_peak_mb": round(peak / 2**20, 1), "rss_growth_pct": round(100 * (peak - base) / base, 1)}


def read_only(path: Path) -> dict[str, Any]:
    from provenance.pipeline.readers import ReaderOptions, RecordReader

    started = time.perf_counter()
    count = sum(1 for _ in RecordReader([path], ReaderOptions()))
    seconds = time.perf_counter() - started
    return {"records": count, "seconds": round(seconds, 2), "records_per_s": round(count / seconds)}


def submit(path: Path, home: Path, count: int) -> dict[str, Any]:
    from provenance.pipeline import submission
    from provenance.pipeline.jobs import job_summary
    from provenance.settings import Settings
    from provenance.store import upgrade

    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    url = f"sqlite:///{home / 'db.sqlite'}"
    upgrade(url)
    settings = Settings(home=home, database_url=url, scan_max_pending_chunks=10**9)
    submission.send_chunk = lambda _settings, _chunk_id: None  # no broker: submission only
    with RssSampler() as sampler:
        def progress(n: int) -> None:
            sampler.done += n

        started = time.perf_counter()
        job_id = submission.submit_paths(settings, [path], progress=progress)
        seconds = time.perf_counter() - started
    summary = job_summary(settings, job_id)
    assert summary["total"] == count, summary
    return {"records": summary["total"], "seconds": round(seconds, 2), "records_per_s": round(count / seconds),
            "file_mb": round(path.stat().st_size / 2**20, 1), **sampler.growth(count)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/provenance-submission-bench"))
    parser.add_argument("--formats", default="jsonl,jsonl.gz,parquet")
    parser.add_argument("--keep", action="store_true", help="keep the generated inputs and stores")
    args = parser.parse_args()
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    started = time.perf_counter()
    inputs = write_inputs(args.out / "inputs", args.records)
    report: dict[str, Any] = {"bench": "submission_formats", "records": args.records,
                              "generate_seconds": round(time.perf_counter() - started, 1),
                              "load_average_before": os.getloadavg(), "cpus": os.cpu_count(), "formats": {}}
    for name in args.formats.split(","):
        entry = {"read_only": read_only(inputs[name]), "submit": submit(inputs[name], args.out / f"home-{name}",
                                                                        args.records)}
        entry["load_average_after"] = os.getloadavg()
        report["formats"][name] = entry
        shutil.rmtree(args.out / f"home-{name}", ignore_errors=True) if not args.keep else None
    baseline = report["formats"].get("jsonl", {}).get("submit", {}).get("records_per_s")
    if baseline:
        for entry in report["formats"].values():
            entry["submit_ratio_to_plain_jsonl"] = round(entry["submit"]["records_per_s"] / baseline, 3)
    if not args.keep:
        shutil.rmtree(args.out / "inputs", ignore_errors=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
