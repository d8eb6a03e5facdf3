"""The documentation's reference is generated from the code, so it cannot miss a command, a setting or a route:
these tests walk the real Typer app, ``Settings`` and the FastAPI app independently of ``docsgen`` and check that
each one is in the generated pages. They also check that bench/record.py keeps what a benchmark printed and that
the measured-numbers page shows exactly that, and that no generated page is committed.

The strict site build itself (`make docs`, `mkdocs build --strict`) runs in CI through `.ci/run`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from docsgen import api_reference, bench_page, cli_reference, records, settings_reference
from docsgen.pages import generate_pages

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return generate_pages()


def _all_commands() -> list[tuple[tuple[str, ...], object, object]]:
    """Every command of the `provenance` app: (path, command, context), found through Click's own interface."""
    from provenance.cli import app

    root = typer.main.get_command(app)
    found = []

    def visit(group, context, path):
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            sub_context = type(context)(command, info_name=name, parent=context, resilient_parsing=True)
            found.append(((*path, name), command, sub_context))
            if hasattr(command, "list_commands"):
                visit(command, sub_context, (*path, name))

    visit(root, root.make_context("provenance", [], resilient_parsing=True), ())
    return found


def _section(page: str, title: str) -> str:
    """The text under ``## `title` `` up to the next second-level heading."""
    match = re.search(rf"^## `{re.escape(title)}`\n(.*?)(?=^## |\Z)", page, flags=re.S | re.M)
    assert match, f"no section for {title!r}"
    return match.group(1)


def test_every_cli_command_and_option_is_in_the_reference(pages: dict[str, str]) -> None:
    page = pages["reference/cli.md"]
    commands = _all_commands()
    top_level = {path[0] for path, _, _ in commands}
    assert {"scan", "serve", "detect", "verdicts", "reviewer"} <= top_level
    assert len(commands) > len(top_level)  # subcommands were walked too
    for path, command, _context in commands:
        section = _section(page, " ".join(("provenance", *path)))
        for param in command.params:
            for flag in (*param.opts, *param.secondary_opts):
                if flag.startswith("-"):
                    assert f"`{flag}" in section or f" {flag}" in section, f"{path}: {flag} missing"


def test_every_setting_is_in_the_reference_with_its_default(pages: dict[str, str]) -> None:
    from provenance.settings import Settings

    page = pages["reference/settings.md"]
    rows = {line.split("|")[1].strip(): line for line in page.splitlines() if line.startswith("| `PROVENANCE_")}
    assert len(Settings.model_fields) >= 40
    for name, info in Settings.model_fields.items():
        env = f"`PROVENANCE_{name.upper()}`"
        assert env in rows, f"{env} missing"
        if isinstance(info.default, int | float | str) and not isinstance(info.default, bool):
            assert f"`{info.default}`" in rows[env], f"{env}: default {info.default!r} not shown"


def test_settings_reference_reads_defaults_from_the_model() -> None:
    docs = {doc.name: doc for doc in settings_reference.settings_docs()}
    assert docs["scan_chunk_size"].env == "PROVENANCE_SCAN_CHUNK_SIZE"
    assert docs["database_url"].default == "unset"
    assert docs["hf_token"].secret


def test_every_api_route_is_in_the_reference_with_its_scope(pages: dict[str, str]) -> None:
    schema = json.loads(pages["reference/openapi.json"])
    page = pages["reference/api.md"]
    ops = api_reference.operations(schema)
    assert any(path == "/v1/verify" for path, _, _ in ops)
    for path, method, _operation in ops:
        assert f"### `{method.upper()} {path}`" in page
    scopes = {(method, path): op["x-provenance-scope"] for path, method, op in ops}
    assert scopes[("post", "/v1/verify")] == "verify"
    assert scopes[("post", "/v1/scan")] == "scan"
    assert scopes[("get", "/healthz")] is None
    for name in schema["components"]["schemas"]:
        assert f"### {name}\n" in page


def test_record_shapes_come_from_the_writers(pages: dict[str, str]) -> None:
    from provenance.pipeline.export import CSV_COLUMNS

    page = pages["reference/records.md"]
    judged, bad = records.detect_score_examples()
    assert {"id", "p_machine", "verdict", "detectors"} <= set(judged)  # the detect score contract
    assert bad["verdict"] == "abstain" and "error" in bad
    exported = records.export_example()
    assert {"document_id", "source_id", "p_machine", "verdict", "watermark", "pii_count"} <= set(exported)
    for key in exported:
        assert f'"{key}"' in page
    for column in CSV_COLUMNS:
        assert f"`{column}`" in page
    summary = records.job_summary_example()
    assert {"job_id", "status", "total", "scored", "quarantined", "duplicates", "verdicts"} <= set(summary)
    for key in summary:
        assert f'"{key}"' in page


def test_bench_record_keeps_what_the_bench_printed_and_the_page_shows_it(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    script = bench / "toy_speed.py"
    script.write_text('"""Toy benchmark: invented figures."""\nimport json\nif __name__ == "__main__":\n'
                      '    print("warming up")\n    print(json.dumps({"ours_per_s": 12.5, "baseline_per_s": 5.0}))\n',
                      encoding="utf-8")
    (bench / "toy_unrun.py").write_text('"""Never run here."""\nif __name__ == "__main__":\n    pass\n',
                                        encoding="utf-8")
    failing = bench / "toy_failing.py"
    failing.write_text('import sys\nif __name__ == "__main__":\n    print("{}")\n    sys.exit(3)\n', encoding="utf-8")
    recorded = tmp_path / "recorded"
    env = {**os.environ, "BENCH_RECORDED_DIR": str(recorded)}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "record.py"), str(script)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"ours_per_s": 12.5' in done.stdout  # the bench's own output still reaches the terminal
    record = json.loads((recorded / "toy_speed.json").read_text(encoding="utf-8"))
    assert record["output"] == {"ours_per_s": 12.5, "baseline_per_s": 5.0}
    assert record["bench"] == "toy_speed" and len(record["load_average_before"]) == 3
    assert record["machine"]["cpu_count"] == os.cpu_count()

    failed = subprocess.run([sys.executable, str(ROOT / "bench" / "record.py"), str(failing)], capture_output=True,
                            text=True, env=env, timeout=120)
    assert failed.returncode == 3
    assert not (recorded / "toy_failing.json").exists()

    page = bench_page.render(recorded=recorded, bench=bench)
    assert "## toy_speed" in page and "`12.5`" in page and "Toy benchmark: invented figures." in page
    not_recorded = page.split("## Not yet recorded", 1)[1]
    assert "`bench/toy_unrun.py`" in not_recorded and "toy_speed" not in not_recorded


def test_record_refuses_a_missing_bench(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "record.py"), str(tmp_path / "nope.py")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "no benchmark" in done.stderr and "Traceback" not in done.stderr


def test_generated_pages_are_not_committed(pages: dict[str, str]) -> None:
    tracked = subprocess.run(["git", "ls-files", "docs"], capture_output=True, text=True, cwd=ROOT).stdout.split()
    if not tracked:  # not a git checkout (an sdist): nothing to check
        return
    for path in pages:
        assert f"docs/{path}" not in tracked, f"docs/{path} is generated at build time and must not be committed"


def test_mkdocs_nav_names_every_guide_and_generated_page(pages: dict[str, str]) -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for path in pages:
        if path.endswith(".md"):
            assert f" {path}" in config, f"{path} is not in the mkdocs nav"
    for guide in sorted((ROOT / "docs").rglob("*.md")):
        assert f" {guide.relative_to(ROOT / 'docs').as_posix()}" in config, f"{guide} is not in the mkdocs nav"


def test_cli_walk_matches_the_generated_index(pages: dict[str, str]) -> None:
    names = cli_reference.command_names()
    assert names == [" ".join(("provenance", *path)) for path, _, _ in _all_commands()]
