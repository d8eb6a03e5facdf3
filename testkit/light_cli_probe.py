"""Run the CLI's light commands in one process and report which heavy libraries they imported.

Run as a script (its folder first on sys.path holds no module named like a platform package). Used by
``tests/test_imports.py`` (in a subprocess, so the test runner's own imports do not count).
Prints one JSON object: ``{"heavy": [...], "exit_codes": {...}}``.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

HEAVY = ("torch", "transformers", "sklearn", "spacy", "presidio_analyzer", "joblib", "streamlit")


def run(args: list[str]) -> tuple[int, str]:
    from provenance.cli import main

    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue()


def probe(workdir: Path) -> dict[str, object]:
    dump = workdir / "dump.txt"
    dump.write_text("".join(f"Line {i} of a small text dump, with a few words in it.\n" for i in range(50)),
                    encoding="utf-8")
    codes: dict[str, int] = {}
    codes["help"], _ = run(["--help"])
    codes["config show"], _ = run(["config", "show", "--json"])
    codes["scan"], out = run(["scan", str(dump), "--format", "txt", "--json"])
    job_id = json.loads(out.strip().splitlines()[-1])["job_id"] if codes["scan"] == 0 else "missing"
    codes["jobs list"], _ = run(["jobs", "list", "--json"])
    codes["jobs show"], _ = run(["jobs", "show", job_id, "--json"])
    codes["verdicts export"], _ = run(["verdicts", "export", "--format", "jsonl"])
    codes["apikey create"], _ = run(["apikey", "create", "--name", "probe", "--json"])
    return {"heavy": sorted(name for name in HEAVY if name in sys.modules), "exit_codes": codes}


if __name__ == "__main__":
    print(json.dumps(probe(Path(sys.argv[1]))))
