"""Memorisation guard: the training-text index, the model-free signal and their effect on verdicts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from detect.ensemble import Verdict
from detect.memorisation import (
    INDEX_FILE,
    MEMORISED_REASON,
    BloomIndex,
    MemorisationGuard,
    build_index,
    corpus_documents,
    corpus_paragraphs,
    index_path_for,
    main,
)
from detect.perplexity import TokenScores, aggregate, longest_run
from tests.conftest import synthetic_paragraphs

SEEN = [" ".join(synthetic_paragraphs(6, seed=s)) for s in range(40)]
UNSEEN = ("Quarterly rainfall figures from the coastal stations were revised after engineers found that two "
          "gauges had been mounted beside a ventilation shaft, which blew warm air across the funnels and "
          "evaporated part of every sample before it could be weighed by the morning shift.")


def _verdict(label: str = "machine") -> Verdict:
    return Verdict(0.99, label, {"fast_detectgpt": 1.0}, ["P(machine)=0.990 >= 0.9"])


def test_index_finds_indexed_text_and_not_unrelated_text(tmp_path: Path) -> None:
    index = build_index(SEEN)
    assert index.overlap(SEEN[3]) == 1.0
    assert index.overlap(UNSEEN) < 0.2
    assert index.overlap("too short") is None
    loaded = BloomIndex.load(index.save(tmp_path / "x.bloom"))
    assert loaded.overlap(SEEN[5]) == 1.0 and loaded.items == index.items
    # A quotation inside new text: the overlap is the quoted share.
    mixed = f"{UNSEEN} {SEEN[0]}"
    assert 0.3 < index.overlap(mixed) < 1.0


def test_false_hit_rate_is_near_the_design_rate() -> None:
    index = BloomIndex.empty(20_000)
    index.add(np.arange(20_000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    probes = np.arange(10**6, 10**6 + 20_000, dtype=np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
    assert index.contains(probes).mean() < 0.03


def test_guard_turns_a_trained_on_text_human_with_the_reason() -> None:
    guard = MemorisationGuard(build_index(SEEN))
    verdict = guard.apply(_verdict("machine"), SEEN[1], certain_run=3.0)
    assert verdict.verdict == "human" and verdict.reasons[0].startswith(MEMORISED_REASON)
    assert verdict.detectors["memorised_overlap"] == 1.0
    untouched = guard.apply(_verdict("machine"), UNSEEN, certain_run=3.0)
    assert untouched.verdict == "machine" and untouched.detectors["memorised_overlap"] < 0.5


def test_model_free_signal_withholds_machine_without_an_index() -> None:
    guard = MemorisationGuard()
    verdict = guard.apply(_verdict("machine"), UNSEEN, certain_run=40.0)
    assert verdict.verdict == "uncertain" and MEMORISED_REASON in verdict.reasons[0]
    assert verdict.detectors["memorised_overlap"] is None
    assert guard.apply(_verdict("machine"), UNSEEN, certain_run=5.0).verdict == "machine"
    assert guard.apply(_verdict("human"), UNSEEN, certain_run=40.0).verdict == "human"
    abstained = Verdict(None, "abstain", {}, ["empty text"])
    assert guard.apply(abstained, "", certain_run=float("nan")).verdict == "abstain"


def test_certain_run_statistics() -> None:
    assert longest_run(np.array([True, True, False, True, True, True, False])) == 3
    assert longest_run(np.zeros(4, dtype=bool)) == 0 and longest_run(np.zeros(0, dtype=bool)) == 0
    ll = np.log(np.array([0.95, 0.99, 0.5, 0.97, 0.92, 0.91, 0.1]))
    scores = TokenScores(ll, np.ones(7, dtype=np.int64), np.full(7, 0.4), np.full(7, 0.2), np.arange(7), False)
    stats = aggregate(scores, "a b c d e f g")
    assert stats.certain_run == 3 and stats.certain_share == pytest.approx(5 / 7)
    assert stats.surprise_excess == pytest.approx(float((-ll - 0.4).mean()))


def test_corpus_documents_follow_the_documented_rule(tmp_path: Path) -> None:
    book = [f"Paragraph {i} of the book, with a few words." for i in range(45)]
    (tmp_path / "book.txt").write_text("\n\n".join(book), encoding="utf-8")
    (tmp_path / "wiki_part.txt").write_text("Article one.\n\n\n  Article two.  \n\n\n\n\n\n", encoding="utf-8")
    documents = list(corpus_documents(tmp_path))
    assert [d for d, _ in documents][-2:] == ["Article one.", "Article two."]
    assert len(documents) == 3 + 2 and documents[0][0] == "\n\n".join(book[:20])
    for document, held_out in documents:
        assert held_out == (int(hashlib.md5(document.encode()).hexdigest(), 16) % 100 == 0)
    picked = corpus_paragraphs(tmp_path, held_out=False, count=3, min_words=2)
    assert len(picked) == 3 and all(any(p in d for d, _ in documents) for p in picked)


def test_index_lookup_prefers_the_model_directory(tmp_path: Path) -> None:
    model, home = tmp_path / "model", tmp_path / "home"
    model.mkdir()
    assert index_path_for(model, "ab" * 32, home) is None
    (home / "models" / "memorisation").mkdir(parents=True)
    (home / "models" / "memorisation" / f"{'ab' * 32}.bloom").write_bytes(b"")
    assert index_path_for(model, "ab" * 32, home).parent.name == "memorisation"
    build_index(SEEN).save(model / INDEX_FILE)
    assert index_path_for(model, "ab" * 32, home) == model / INDEX_FILE


def test_bootstrap_records_the_index_of_its_training_text(micro_model_dir: Path) -> None:
    index = BloomIndex.load(micro_model_dir / INDEX_FILE)
    overlaps = [index.overlap(p) for p in synthetic_paragraphs(1500)[:50]]
    seen = [o for o in overlaps if o is not None]
    # Trained-on paragraphs are found whole (a few are the trainer's held-out share).
    assert index.items > 0 and np.mean([o == 1.0 for o in seen]) > 0.8


def test_build_command_errors_and_builds(capsys, clean_env: Path, micro_model_dir: Path,
                                        synthetic_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["build", "--corpus", str(clean_env / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "hint:" in err
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    assert main(["build", "--corpus", str(synthetic_corpus)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert Path(report["index"]).is_file() and report["documents"] > 0
    assert Path(report["index"]).parent == clean_env / "models" / "memorisation"
