"""Import hygiene: the CLI's light paths stay free of heavy libraries, the dashboard reads through
``provenance`` (never the CLI or the store directly), the layers point one way (watermark -> generator ->
detect -> provenance -> dashboard) and no package has an import cycle, every import counted (a function-level
import too).

Behaviour, not timing: what is in ``sys.modules`` and what the source imports.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("provenance", "generator", "detect", "watermark", "dashboard")
HEAVY = ("torch", "transformers", "sklearn", "spacy")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROVENANCE_")}
    env.update(PROVENANCE_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT), PROVENANCE_HUB_OFFLINE="true")
    return env


def _python(code: str, tmp_path: Path) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env=_env(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_light_modules_import_no_heavy_library(tmp_path: Path) -> None:
    modules = ["provenance.cli", "provenance.cli.config_cmd", "provenance.cli.scan_cmd", "provenance.cli.api_cmd",
               "provenance.pipeline.submission", "provenance.pipeline.export", "provenance.pipeline.jobs",
               "provenance.api.lookup", "provenance.store.ledger", "provenance.apikeys", "generator",
               "generator.stamping", "provenance.signals", "provenance.settings", "provenance.home"]
    code = ("import importlib, json, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    assert json.loads(_python(code, tmp_path).strip().splitlines()[-1]) == []


def test_light_commands_run_without_heavy_libraries(tmp_path: Path) -> None:
    """--help, config show, scan submission (no --wait), jobs list/show, verdicts export, apikey create."""
    probe = ROOT / "testkit" / "light_cli_probe.py"
    done = subprocess.run([sys.executable, str(probe), str(tmp_path)], capture_output=True, text=True,
                          cwd=tmp_path, env=_env(tmp_path), timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report["exit_codes"].values()) == {0}, report
    assert [name for name in report["heavy"] if name in HEAVY] == [], report


def test_lazy_help_matches_each_command(tmp_path: Path) -> None:
    """The root help lists commands without importing them: its lines must be each command's own."""
    from provenance.cli import LAZY_COMMANDS, load_command

    for name, (_module, _attribute, _kind, short_help) in LAZY_COMMANDS.items():
        command = load_command(name)
        first_paragraph = " ".join((command.help or "").strip().split("\n\n")[0].split())
        assert first_paragraph == short_help, name


# --- the import graph: every import counts (module level, inside functions, under TYPE_CHECKING) -------------

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def _known_prefix(name: str, known: set[str]) -> str | None:
    """The longest platform module ``name`` refers to (``a.b.Class`` -> ``a.b``), or None for a library."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


DOTTED_TARGET = re.compile(r"([A-Za-z_][\w.]*):[A-Za-z_]\w*")  # "package.module:Attribute"


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every platform module the file imports, wherever the statement sits: a lazy import inside a function is
    still an arrow (it runs the first time the function does), so hiding a cycle behind one is no way out. A
    ``"package.module:Attribute"`` string naming a platform module (the signal registry's entries, an ASGI app
    target) is an arrow too: ``importlib`` follows it on first use, exactly like a lazy import."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            dotted = DOTTED_TARGET.fullmatch(node.value)
            if dotted and dotted.group(1) in known:
                targets.add(dotted.group(1))
        elif isinstance(node, ast.Import):
            targets.update(_known_prefix(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in known else _known_prefix(base, known))
    return {target for target in targets if target and target != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, set(modules)) for name, path in modules.items()}


def test_dashboard_imports_nothing_from_cli_or_store() -> None:
    """Every import in dashboard/ (module level or inside functions) goes through provenance's service layer."""
    offenders = []
    for path in (ROOT / "dashboard").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names
                          if n.startswith(("provenance.cli", "provenance.store"))]
    assert offenders == []


def test_no_arrow_from_pipeline_api_or_dashboard_into_the_cli() -> None:
    offenders = []
    for package in ("provenance/pipeline", "provenance/api", "dashboard", "provenance/signals"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("provenance.cli"):
                    offenders.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert offenders == []


LAYERS = {"watermark": 0, "generator": 1, "detect": 2, "provenance": 3, "dashboard": 4}  # DESIGN.md, bottom up


def test_no_import_points_up_a_layer_even_inside_a_function() -> None:
    """watermark -> generator -> detect -> provenance -> dashboard: a library gets what it needs from above as an
    argument (e.g. the trainers' ``index_writer``), never by importing it lazily."""
    offenders = []
    for package, layer in LAYERS.items():
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                offenders += [f"{path.relative_to(ROOT)}: {name}" for name in names
                              if LAYERS.get(name.split(".")[0], -1) > layer]
    assert offenders == []


def test_the_graph_sees_imports_inside_functions() -> None:
    """The walker counts a lazy edge: ``provenance.detection`` imports ``detect.memorisation`` only inside a
    method, and the graph must still hold that arrow (else a cycle could hide behind it)."""
    assert "detect.memorisation" in _graph()["provenance.detection"]


def test_the_graph_sees_the_signal_registrys_dotted_paths() -> None:
    """The registry loads each signal class by ``"module:Class"`` (so reading it loads no model library); the
    graph still holds those arrows, so a layer violation or a cycle through a registered signal fails here."""
    from provenance.signals.registry import REGISTRY

    dotted = {entry.target.partition(":")[0] for entry in REGISTRY.values() if isinstance(entry.target, str)}
    assert dotted and dotted <= _graph()["provenance.signals.registry"]


def test_no_arrow_runs_up_a_layer_in_the_graph() -> None:
    """The same order as above, on the resolved graph (relative imports included)."""
    graph = _graph()
    upward = sorted(f"{source} -> {target}" for source, targets in graph.items() for target in targets
                    if LAYERS[target.split(".")[0]] > LAYERS[source.split(".")[0]])
    assert upward == []


def test_no_import_cycles() -> None:
    """0 strongly connected components of more than one module, every import counted."""
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in graph:
        if node not in index:
            connect(node)
    assert cycles == []


def test_benchmarks_and_the_product_never_import_the_test_suite() -> None:
    """The harness the tests and benchmarks share lives in ``testkit``; a benchmark that imported ``tests`` would
    run pytest's fixtures module as a library. The product packages import neither."""
    offenders = []
    for path in sorted([*ROOT.glob("bench/*.py"), *ROOT.glob("testkit/*.py"),
                        *(p for package in PACKAGES for p in ROOT.glob(f"{package}/**/*.py"))]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] == "tests"]
            if path.relative_to(ROOT).parts[0] in PACKAGES:
                offenders += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] == "testkit"]
    assert offenders == []
