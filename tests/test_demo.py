"""`provenance demo` as `make demo` runs it: the offline path that bootstraps, then reuses, a model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import synthetic_paragraphs

PROVENANCE_BIN = Path(sys.executable).parent / "provenance"


def run_demo(home: Path, corpus: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env.update(PROVENANCE_HOME=str(home), HF_HUB_OFFLINE="1", COLUMNS="120")
    return subprocess.run([str(PROVENANCE_BIN), "demo", "--corpus", str(corpus), "--max-minutes", "0.75",
                           "--max-new-tokens", "12"], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_demo_bootstraps_on_first_run_and_reuses_the_model_after(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "text.txt").write_text("\n\n".join(synthetic_paragraphs(4000, seed=5)))
    home = tmp_path / "home"
    first = run_demo(home, corpus, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "bootstrapping" in first.stderr
    assert (home / "models" / "bootstrap" / "model_card.json").is_file()
    assert "tok/s" in first.stdout and first.stdout.count("tokens") >= 4
    second = run_demo(home, corpus, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "bootstrapping" not in second.stderr
    assert "source=bootstrap" in second.stderr
