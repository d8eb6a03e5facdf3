"""CLI latency: wall seconds of `provenance --help` and the light commands, each in a fresh process, against
`python -c pass` (the floor: interpreter start) and `python -c "import torch"` (what every command paid before
imports were made lazy) measured in the same run. Prints one JSON object.

    python bench/cli_latency.py [--repeats 5] [--rows 100] [--lines 1000] [--old-root ../main]

Each figure is the median of ``--repeats`` runs; the store is a fresh SQLite home holding ``--rows`` verdicts
for `verdicts export` (written directly, no model is loaded) and the scan submission reads a ``--lines``-line
text file without ``--wait``. Goals (issue 16): --help <= 0.5 s, every light command <= 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"--help": 0.5}
LIGHT_GOAL = 1.5


CPU: list[float] = []  # CPU seconds (user + system) of the last _timed child: robust to a loaded machine


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return seconds, done.stdout


def _median(argv: list[str], env: dict[str, str], cwd: Path, repeats: int) -> dict[str, float]:
    """Median wall seconds and median CPU seconds of ``repeats`` fresh runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        walls.append(_timed(argv, env, cwd)[0])
        cpus.append(CPU[-1])
    return {"seconds": round(statistics.median(walls), 3), "cpu_seconds": round(statistics.median(cpus), 3)}


def _seed_verdicts(env: dict[str, str], rows: int) -> None:
    """Documents and verdicts written straight into the store, as a finished scan would leave them."""
    code = f"""
import sys
from provenance.settings import Settings
from provenance.store import Document, ScanJob, VerdictRow, ensure_schema, session_scope
settings = Settings()
settings.ensure_home()
ensure_schema(settings.resolved_database_url)
with session_scope(settings.resolved_database_url) as s:
    s.add(ScanJob(id="bench-job", status="done", bundle_version="bench"))
    for i in range({rows}):
        d = Document(content_hash=f"{{i:064x}}", redacted_text=f"Document number {{i}} for the export benchmark.")
        s.add(d)
        s.flush()
        s.add(VerdictRow(document_id=d.id, bundle_version="bench", job_id="bench-job", verdict="human",
                      p_machine=0.1, models={{}}, signals={{"detection": {{"p_machine": 0.1, "verdict": "human"}}}}))
"""
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--old-root", type=Path, default=None,
                        help="A checkout of the code before lazy imports: its `--help` is measured too.")
    args = parser.parse_args()
    python = sys.executable
    cli = [python, "-m", "provenance.cli"]
    with tempfile.TemporaryDirectory(prefix="cli-latency-") as tmp:
        work = Path(tmp)
        env = {key: value for key, value in os.environ.items() if not key.startswith("PROVENANCE_")}
        env.update(PROVENANCE_HOME=str(work / "home"), PYTHONPATH=str(ROOT), PROVENANCE_HUB_OFFLINE="true")
        _seed_verdicts(env, args.rows)
        dump = work / "dump.txt"
        dump.write_text("".join(f"Line {i} of the latency benchmark's dump, a sentence of ordinary words.\n"
                                for i in range(args.lines)), encoding="utf-8")
        _seconds, out = _timed([*cli, "scan", str(dump), "--format", "txt", "--json"], env, work)
        job_id = json.loads(out.strip().splitlines()[-1])["job_id"]
        floor = _median([python, "-c", "pass"], env, work, args.repeats)
        torch_cost = _median([python, "-c", "import torch"], env, work, args.repeats)
        commands = {
            "--help": ["--help"],
            "config show": ["config", "show", "--json"],
            "jobs list": ["jobs", "list", "--json"],
            "jobs show": ["jobs", "show", job_id, "--json"],
            f"verdicts export ({args.rows} rows)": ["verdicts", "export", "--format", "jsonl"],
            "apikey create": ["apikey", "create", "--name", "bench", "--json"],
            f"scan --json ({args.lines} lines, no --wait)": ["scan", str(dump), "--format", "txt", "--json"],
        }
        baselines = {"python -c pass": floor, "python -c 'import torch'": torch_cost}
        if args.old_root is not None:
            old_env = {**env, "PYTHONPATH": str(args.old_root.resolve())}
            baselines["old code: provenance --help"] = _median([*cli, "--help"], old_env, work, args.repeats)
        figures = {}
        for label, argv in commands.items():
            if label.startswith("scan"):  # each submission is a new file content, so it is a new job
                walls, cpus = [], []
                for repeat in range(args.repeats):
                    dump.write_text(dump.read_text(encoding="utf-8") + f"repeat {repeat}\n", encoding="utf-8")
                    walls.append(_timed([*cli, *argv], env, work)[0])
                    cpus.append(CPU[-1])
                measured = {"seconds": round(statistics.median(walls), 3),
                            "cpu_seconds": round(statistics.median(cpus), 3)}
            else:
                measured = _median([*cli, *argv], env, work, args.repeats)
            goal = GOALS.get(label, LIGHT_GOAL)
            seconds, cpu = measured["seconds"], measured["cpu_seconds"]
            figures[label] = {**measured, "goal_seconds": goal, "meets_goal": seconds <= goal,
                              "cpu_meets_goal": cpu <= goal,
                              "over_floor": round(seconds - floor["seconds"], 3),
                              "vs_import_torch": round(seconds / torch_cost["seconds"], 3),
                              "cpu_vs_import_torch": round(cpu / torch_cost["cpu_seconds"], 3)}
    print(json.dumps({
        "benchmark": "cli_latency", "repeats": args.repeats,
        "statistic": "median wall and CPU (user + system) seconds, fresh process",
        "load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
        "baselines": baselines,
        "commands": figures,
    }, indent=2))


if __name__ == "__main__":
    main()
