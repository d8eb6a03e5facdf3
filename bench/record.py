"""Run one benchmark and keep what it printed: ``python bench/record.py bench/NAME.py [ARGS...]``.

The benchmark runs unchanged (its output still goes to the terminal); every JSON value it prints on stdout is
also written, with when, where and under what load it ran, to ``bench/recorded/NAME.json``. The documentation's
"Measured numbers" page is generated from those files only, so a figure in the docs is always one a bench
printed. A failed run (non-zero exit, or no JSON) records nothing and keeps the previous file.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parent / "recorded"
RECORDED_ENV = "BENCH_RECORDED_DIR"  # another folder (tests); default bench/recorded


def machine() -> dict[str, Any]:
    """What the figures depend on; no host name (the files are committed)."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):  # no /proc/cpuinfo: keep platform's name
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(),
            "torch_threads_env": os.environ.get("PROVENANCE_TORCH_THREADS") or os.environ.get("OMP_NUM_THREADS")}


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def json_values(stdout: str) -> list[Any]:
    """Every JSON object or array printed on its own line; else the whole output as one (pretty-printed) value."""
    values = []
    for line in stdout.splitlines():
        line = line.strip()
        if line[:1] in "{[":
            try:
                values.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    if not values:
        with contextlib.suppress(json.JSONDecodeError):
            values.append(json.loads(stdout))
    return values


def run(argv: list[str]) -> int:
    if not argv or not argv[0].endswith(".py"):
        print("usage: python bench/record.py bench/NAME.py [ARGS...]", file=sys.stderr)
        return 2
    script = Path(argv[0])
    if not script.is_file():
        print(f"error: no benchmark {script}", file=sys.stderr)
        return 2
    started = datetime.now(timezone.utc)
    load_before = load_average()
    clock = time.perf_counter()
    process = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, text=True)
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    code = process.wait()
    values = json_values("".join(lines))
    if code != 0 or not values:
        print(f"bench/record.py: {script.name} exited {code} with {len(values)} JSON value(s): nothing recorded",
              file=sys.stderr)
        return code or 1
    record = {
        "bench": script.stem,
        "command": " ".join(["python", str(script), *argv[1:]]),
        "date": started.isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - clock, 1),
        "machine": machine(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "output": values[-1] if len(values) == 1 else values,
    }
    folder = Path(os.environ.get(RECORDED_ENV) or RECORDED)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{script.stem}.json"
    target.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"bench/record.py: recorded {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
