"""`provenance demo` as `make demo` runs it: the offline path that bootstraps, then reuses, a model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.texts import synthetic_paragraphs

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
    assert "memorisation guard on" in first.stdout  # the bootstrapped model's own index, verified
    second = run_demo(home, corpus, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "bootstrapping" not in second.stderr
    assert "source=bootstrap" in second.stderr


# --- The demo's held-out examples and per-kind counts (fast, no model) ------------------------------------------

def documented_heldout(document: str) -> bool:
    """The split as ../shared/models/README.md states it, recomputed here independently of the product code."""
    import hashlib

    return int(hashlib.md5(document.encode()).hexdigest(), 16) % 100 == 0


def test_corpus_examples_come_only_from_held_out_documents(tmp_path: Path) -> None:
    from provenance.cli.demo_heldout import heldout_corpus_examples

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    paragraphs = synthetic_paragraphs(6000, seed=11)
    (corpus / "book.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    articles = ["\n\n".join(paragraphs[i:i + 3]) for i in range(0, 3000, 3)]
    (corpus / "wiki_part.txt").write_text("\n\n\n".join(articles), encoding="utf-8")
    book_docs = ["\n\n".join(paragraphs[i:i + 20]) for i in range(0, len(paragraphs), 20)]
    held = [d for d in book_docs + [a.strip() for a in articles] if documented_heldout(d)]
    trained = [d for d in book_docs + [a.strip() for a in articles] if not documented_heldout(d)]
    assert held and trained
    examples = heldout_corpus_examples(corpus, 6, seed=3)
    assert examples and all(e.kind == "human-corpus" for e in examples)
    for example in examples:
        first = example.text.split("\n\n")[0]
        assert any(first in " ".join(d.split()) for d in held), example.origin
    assert {e.origin.split(" ")[0] for e in examples} == {"book.txt", "wiki_part.txt"}  # both families
    assert heldout_corpus_examples(None, 6, seed=3) == []


def test_labelled_examples_skip_every_group_the_bundle_trained_on(tmp_path: Path) -> None:
    import json

    from detect.bundle import short_text_hash
    from provenance.cli.demo_heldout import heldout_labelled_examples

    paragraphs = synthetic_paragraphs(80, seed=4)
    rows = []
    for i in range(40):
        rows.append({"text": paragraphs[2 * i], "label": "human", "pair": str(i), "domain": "news"})
        rows.append({"text": paragraphs[2 * i + 1], "label": "machine", "pair": str(i), "domain": "news",
                     "generator": "other-llm"})
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    trained_pairs = set(range(0, 40, 2))  # the bundle saw only the machine half of the even pairs
    hashes = frozenset(short_text_hash(paragraphs[2 * i + 1]) for i in trained_pairs)
    examples = heldout_labelled_examples([data], hashes, per_label=5, seed=1)
    assert [e.kind for e in examples] == ["human-labelled"] * 5 + ["machine-labelled"] * 5
    text_pair = {row["text"]: int(row["pair"]) for row in rows}
    from detect.text import normalize_for_detection  # the same normalisation the training data gets

    normalised_pair = {normalize_for_detection(text): pair for text, pair in text_pair.items()}
    assert all(normalised_pair[e.text] not in trained_pairs for e in examples)


def test_dump_ids_name_their_kind_and_the_table_counts_them(tmp_path: Path, capsys) -> None:
    import json

    from provenance.cli.demo_heldout import Example
    from provenance.cli.demo_scan import build_dump, kind_of, print_kind_table

    examples = [Example("generated", f"ours {i}", "demo") for i in range(3)]
    examples += [Example("human-corpus", f"human {i}", "corpus") for i in range(2)]
    lines = build_dump(tmp_path / "dump.jsonl", examples, seed=0)
    assert lines == 5 + 2  # plus a duplicate and a malformed line
    parsed = []
    for line in (tmp_path / "dump.jsonl").read_text().splitlines():
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    assert sorted(kind_of(r["id"]) or "dup" for r in parsed) == ["dup"] + ["generated"] * 3 + ["human-corpus"] * 2
    records = [{"source_id": r["id"], "verdict": "machine" if r["id"].startswith("generated") else "human",
                "watermark": {"watermarked": r["id"].startswith("generated")}} for r in parsed]
    print_kind_table(records)
    out = capsys.readouterr().out
    rows = {line.split("│")[1].strip(): line.replace("│", " ").split()[-5:] for line in out.splitlines()
            if line.startswith("│")}
    assert rows["ours: watermarked generations (3)"] == ["3", "0", "0", "0", "3"]
    assert rows["human: held-out corpus docs (2)"] == ["0", "2", "0", "0", "0"]
