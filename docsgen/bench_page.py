"""The "Measured numbers" page, generated from the files ``bench/record.py`` wrote (``bench/recorded/*.json``):
each figure shown is one a benchmark printed, with the date, machine and load it ran under. Benchmarks with no
recorded run are listed as such; nothing is copied in by hand."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from docsgen.markdown import code, json_block, table

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RECORDED = BENCH / "recorded"
MAX_TABLE_LEAVES = 80


def bench_scripts(bench: Path = BENCH) -> dict[str, str]:
    """Benchmark name -> the first paragraph of its docstring, for every runnable script in bench/."""
    scripts = {}
    for path in sorted(bench.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        if path.name == "record.py" or '__name__ == "__main__"' not in source:
            continue
        doc = ast.get_docstring(ast.parse(source)) or ""
        scripts[path.stem] = " ".join(doc.split("\n\n")[0].split())
    return scripts


def recorded_runs(recorded: Path = RECORDED) -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(recorded.glob("*.json"))]


def leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in leaves(item, f"{prefix}.{key}" if prefix else key)]
    if isinstance(value, list) and value and all(isinstance(item, dict | list) for item in value):
        return [leaf for index, item in enumerate(value) for leaf in leaves(item, f"{prefix}[{index}]")]
    return [(prefix or "value", value)]


def _load(values: Any) -> str:
    return ", ".join(str(value) for value in values) if isinstance(values, list) else str(values)


def render_run(run: dict[str, Any], about: str) -> str:
    machine = run.get("machine", {})
    parts = [
        f"## {run['bench']}",
        "",
        about,
        "",
        table(["run", ""], [
            ["command", code(run.get("command", ""))],
            ["date (UTC)", run.get("date", "")],
            ["machine", f"{machine.get('cpu', '')}, {machine.get('cpu_count', '')} logical CPUs, "
                        f"{machine.get('system', '')}, Python {machine.get('python', '')}"],
            ["load average (1, 5, 15 min) before / after",
             f"{_load(run.get('load_average_before'))} / {_load(run.get('load_average_after'))}"],
            ["wall time", f"{run.get('wall_s')} s"],
        ]),
        "",
    ]
    flat = leaves(run.get("output"))
    if len(flat) <= MAX_TABLE_LEAVES:
        parts += ["What it printed:", "", table(["key", "value"], [[code(key), code(value)] for key, value in flat]),
                  ""]
    else:
        parts += ["What it printed:", "", json_block(run.get("output")), ""]
    return "\n".join(parts)


def render(recorded: Path = RECORDED, bench: Path = BENCH) -> str:
    scripts = bench_scripts(bench)
    runs = recorded_runs(recorded)
    done = {run["bench"] for run in runs}
    missing = [name for name in scripts if name not in done]
    parts = [
        "# Measured numbers",
        "",
        "Generated at build time (`docsgen/bench_page.py`) from `bench/recorded/*.json`. Each file is written by",
        "`bench/record.py` around one benchmark run (`make bench` runs every benchmark through it): what the",
        "benchmark printed, with the date, the machine and its load average. Each benchmark compares against its",
        "named baseline in the same run (see its docstring), so read ratios within one run; absolute speeds",
        "depend on the machine and its load (the development machine is 2 CPU cores shared by several people).",
        "",
        "Figures per area, with the split each was measured on, are also discussed in the guides (e.g.",
        "[Machine-text detection](guides/detection.md), [PII redaction](guides/pii.md),",
        "[Inference optimisations](guides/optimisations.md)).",
        "",
    ]
    parts += [render_run(run, scripts.get(run["bench"], "")) for run in runs]
    if missing:
        parts += ["## Not yet recorded", "",
                  "No recorded run yet: run `make bench` (or `python bench/record.py bench/NAME.py`).", "",
                  table(["benchmark", "what it measures"], [[code(f"bench/{name}.py"), scripts[name]]
                                                           for name in missing]), ""]
    return "\n".join(parts)
