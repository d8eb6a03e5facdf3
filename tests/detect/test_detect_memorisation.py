"""Memorisation guard: the training-text index, the model-free signal and their effect on verdicts."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from detect.bundle import Bundle
from detect.ensemble import Verdict
from detect.errors import DetectionError
from detect.memorisation import (
    INDEX_FILE,
    MEMORISED_REASON,
    SET_ASIDE_REASON,
    MemorisationGuard,
    corpus_documents,
    corpus_paragraphs,
    index_path_for,
    main,
)
from detect.ngram_index import load_verified
from detect.perplexity import PerplexityScorer, TokenScores, aggregate, longest_run
from detect.scoring import judge_texts
from generator.ngram_index import BloomIndex, build_index, card_path, save_with_card
from testkit.texts import synthetic_paragraphs

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


def test_a_fully_memorised_text_becomes_uncertain_with_the_reason_never_human() -> None:
    guard = MemorisationGuard(build_index(SEEN))
    for label in ("machine", "human"):
        verdict = guard.apply(_verdict(label), SEEN[1], certain_run=3.0)
        assert verdict.verdict == "uncertain" and verdict.reasons[0].startswith(MEMORISED_REASON)
        assert "100% of its words" in verdict.reasons[0]
        assert verdict.detectors["memorised_overlap"] == 1.0 and verdict.detectors["memorised_share"] == 1.0
        assert verdict.detectors["p_machine_full_text"] == 0.99
    untouched = guard.apply(_verdict("machine"), UNSEEN, certain_run=3.0)
    assert untouched.verdict == "machine" and untouched.detectors["memorised_overlap"] < 0.2


def test_coverage_sets_the_trained_on_words_aside() -> None:
    guard = MemorisationGuard(build_index(SEEN))
    coverage = guard.coverage(f"{UNSEEN} {SEEN[2]}")
    assert coverage is not None and coverage.triggered
    assert coverage.remainder == UNSEEN  # the quoted passage is gone, the unseen text kept whole
    assert coverage.remainder_words == len(UNSEEN.split())
    middle = guard.coverage(f"{UNSEEN} {SEEN[2]} {UNSEEN}")
    assert middle.remainder == f"{UNSEEN} {UNSEEN}"
    assert guard.coverage(SEEN[4]).remainder == "" and guard.coverage("too short") is None


def test_an_isolated_shared_phrase_sets_nothing_aside() -> None:
    """One shared 8-gram (a common phrase, or one of the filter's false hits) is not a quotation."""
    phrase = "two gauges had been mounted beside a ventilation"  # 8 words of UNSEEN
    guard = MemorisationGuard(build_index([f"Nothing else was indexed: {phrase}."]))
    coverage = guard.coverage(UNSEEN)
    assert coverage.overlap > 0 and coverage.covered == 0.0 and not coverage.triggered
    assert coverage.remainder == UNSEEN


def test_the_remainder_decides_a_text_with_a_quotation() -> None:
    guard = MemorisationGuard(build_index(SEEN))
    quoted = f"{UNSEEN} {' '.join(SEEN[2].split()[:30])}"  # 44 new words, then a 30-word quotation
    remainder_machine = Verdict(0.95, "machine", {"fast_detectgpt": 2.0}, ["P(machine)=0.950 >= 0.9"])
    verdict = guard.apply(_verdict("human"), quoted, certain_run=3.0, remainder=remainder_machine)
    assert verdict.verdict == "machine" and verdict.p_machine == 0.95
    assert verdict.reasons[0].startswith(SET_ASIDE_REASON) and "judged on their own, are machine" in verdict.reasons[0]
    assert verdict.detectors["p_machine_full_text"] == 0.99 and verdict.diagnostics["full_text"]["verdict"] == "human"
    # A human remainder: human while most of the text is unseen, uncertain once most of it was trained on.
    remainder_human = Verdict(0.05, "human", {"fast_detectgpt": -2.0}, ["P(machine)=0.050 <= 0.1"])
    coverage = guard.coverage(quoted)
    assert coverage.covered < 0.5
    mostly_new = guard.apply(_verdict("machine"), quoted, certain_run=3.0, remainder=remainder_human)
    assert mostly_new.verdict == "human" and mostly_new.p_machine == 0.05
    assert mostly_new.reasons[0].startswith(MEMORISED_REASON)
    mostly_seen = f"{UNSEEN} {SEEN[2]}"
    assert guard.coverage(mostly_seen).covered >= 0.5
    remainder_human = Verdict(0.05, "human", {"fast_detectgpt": -2.0}, ["P(machine)=0.050 <= 0.1"])
    seen_verdict = guard.apply(_verdict("machine"), mostly_seen, certain_run=3.0, remainder=remainder_human)
    assert seen_verdict.verdict == "uncertain" and seen_verdict.p_machine == 0.05
    # A remainder too short to judge: uncertain with the reason, whatever the full text looked like.
    short = Verdict(None, "abstain", {}, ["too short to judge: 9 words (at least 16 needed)"])
    unjudged = guard.apply(_verdict("machine"), quoted, certain_run=3.0, remainder=short)
    assert unjudged.verdict == "uncertain" and "too short to judge" in unjudged.reasons[0]


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
    # Its digest is on the sidecar card and on the model card, and the guard loads it after checking both.
    model_card = json.loads((micro_model_dir / "model_card.json").read_text(encoding="utf-8"))
    assert model_card["memorisation_index"]["index_sha256"] == load_verified(micro_model_dir / INDEX_FILE)[1][
        "index_sha256"]
    assert MemorisationGuard.for_scorer(micro_model_dir, None, None).index is not None


def test_a_verified_index_loads_and_a_changed_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.bloom"
    card = save_with_card(build_index(SEEN), path, weights_sha256="ab" * 32)
    index, loaded_card = load_verified(path, "ab" * 32)
    assert index.overlap(SEEN[0]) == 1.0 and loaded_card["index_sha256"] == card["index_sha256"]
    with pytest.raises(DetectionError, match="built for scorer weights"):
        load_verified(path, "cd" * 32)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF  # one flipped byte after the card was written
    path.write_bytes(bytes(raw))
    with pytest.raises(DetectionError, match="does not match its card") as refused:
        load_verified(path)
    assert str(path) in str(refused.value) and "memorisation-index" in refused.value.hint
    card_path(path).unlink()
    with pytest.raises(DetectionError, match="no readable card"):
        load_verified(path)


def test_an_index_without_a_card_is_not_used_and_says_so(tmp_path: Path) -> None:
    """Written before cards existed: unverifiable, so the guard runs on the model-free signal, with a warning
    (deleting the index would do the same; a file that contradicts its card is refused instead)."""
    model = tmp_path / "model"
    build_index(SEEN).save(model / INDEX_FILE)
    with pytest.warns(UserWarning, match="memorisation guard off: .*no readable card"):
        guard = MemorisationGuard.for_scorer(model, None, None)
    assert guard.index is None


def test_a_saturated_index_is_refused_even_with_a_matching_card(tmp_path: Path) -> None:
    index = build_index(SEEN)
    index.bits[:] = 0xFF  # every bit set: every 8-gram would be a hit
    assert index.overlap(UNSEEN) == 1.0
    save_with_card(index, tmp_path / "full.bloom")  # whoever filled it rewrote the card too
    with pytest.raises(DetectionError, match="saturated"):
        load_verified(tmp_path / "full.bloom")
    model = tmp_path / "model"
    save_with_card(index, model / INDEX_FILE)
    with pytest.raises(DetectionError, match="saturated"):
        MemorisationGuard.for_scorer(model, None, None)
    # Fuller than its item count allows (a forged header) is refused too, below the absolute cap.
    half = build_index(SEEN[:2])
    half.bits[: len(half.bits) // 2] = 0xFF
    save_with_card(half, tmp_path / "forged.bloom")
    with pytest.raises(DetectionError, match="saturated"):
        load_verified(tmp_path / "forged.bloom")


def test_the_old_build_entry_point_points_to_the_cli(capsys) -> None:
    assert main(["build", "--corpus", "anything"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "hint: provenance model memorisation-index --corpus DIR" in err


def _cli(argv: list[str]) -> int:
    from provenance.cli import main as cli_main

    with pytest.raises(SystemExit) as exited:
        cli_main(argv)
    return int(exited.value.code or 0)


def test_memorisation_index_command_builds_verifies_and_reuses(capsys, clean_env: Path, micro_model_dir: Path,
                                                               synthetic_corpus: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    foreign = tmp_path / "foreign"  # a local model the platform did not train: no index beside it
    shutil.copytree(micro_model_dir, foreign, ignore=shutil.ignore_patterns(f"{INDEX_FILE}*"))
    monkeypatch.setenv("PROVENANCE_MODEL", str(foreign))
    assert _cli(["model", "memorisation-index", "--corpus", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "hint:" in err and "Traceback" not in err
    assert _cli(["model", "memorisation-index", "--corpus", str(synthetic_corpus), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    index_path = Path(report["index"])
    assert report["how"] == "built" and report["documents"] > 0 and report["ngrams"] > 0
    assert index_path.parent == clean_env / "models" / "memorisation" and card_path(index_path).is_file()
    guard = MemorisationGuard.for_scorer(foreign, report["weights_sha256"], clean_env)
    assert guard.index is not None and guard.coverage(synthetic_paragraphs(3, seed=5)[0]) is not None
    assert _cli(["model", "memorisation-index", "--corpus", str(synthetic_corpus), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["how"] == "reused"
    index_path.write_bytes(index_path.read_bytes()[:-1] + b"\x00")  # changed: scoring refuses, a rebuild repairs
    with pytest.raises(DetectionError, match="does not match its card"):
        MemorisationGuard.for_scorer(foreign, report["weights_sha256"], clean_env)
    assert _cli(["model", "memorisation-index", "--corpus", str(synthetic_corpus), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["how"] == "built"


def test_demo_phase_turns_the_guard_on_or_says_it_is_model_free(capsys, clean_env: Path, micro_model_dir: Path,
                                                                synthetic_corpus: Path, tmp_path: Path) -> None:
    from generator import ModelRequest, load_model
    from provenance.cli.demo_memorisation import demo_memorisation
    from provenance.settings import Settings

    foreign = tmp_path / "foreign"
    shutil.copytree(micro_model_dir, foreign, ignore=shutil.ignore_patterns(f"{INDEX_FILE}*"))
    loaded = load_model(str(foreign), ModelRequest(device="cpu", offline=True))
    settings = Settings()
    assert demo_memorisation(settings, loaded, None).startswith("model-free")
    assert "model-free signal only" in capsys.readouterr().out
    assert demo_memorisation(settings, loaded, synthetic_corpus) == "built"
    out = capsys.readouterr().out
    assert "memorisation guard on" in out and str(clean_env / "models" / "memorisation") in out.replace("\n", "")
    assert demo_memorisation(settings, loaded, synthetic_corpus) == "reused"




# Invented for this test (not from any data file): plain prose unlike the micro model's training grammar.
QUOTE = ("Every spring the ferry company repainted its oldest boat in the colours of the harbour town, and the "
         "children of the fishermen were allowed to choose the name painted on the bow, which is how a rusty "
         "vessel came to be called the Patient Heron for eleven summers before anyone on the council objected "
         "to it in writing.")


def test_a_quotation_inside_machine_text_does_not_clear_it(scorer: PerplexityScorer, bundle: Bundle,
                                                           detect_data_file: Path) -> None:
    rows = [json.loads(line) for line in detect_data_file.read_text(encoding="utf-8").splitlines()]
    machine = [row["text"] for row in rows if row["label"] == "machine"][:40]
    called = [text for text, verdict in zip(machine, judge_texts(scorer, bundle, machine), strict=True)
              if verdict.verdict == "machine"][:3]
    assert called, "the micro bundle calls some of its own model's samples machine"
    guard = MemorisationGuard(build_index([QUOTE]))  # the scorer "was trained on" the quotation
    for verdict in judge_texts(scorer, bundle, [f"{text} {QUOTE}" for text in called], guard=guard):
        assert verdict.verdict == "machine", verdict.reasons
        assert verdict.reasons[0].startswith(SET_ASIDE_REASON)
        assert verdict.detectors["memorised_share"] >= 0.2 and "p_machine_full_text" in verdict.detectors
    memorised = judge_texts(scorer, bundle, [QUOTE], guard=guard)[0]
    assert memorised.verdict == "uncertain" and memorised.reasons[0].startswith(MEMORISED_REASON)
    assert memorised.detectors["memorised_share"] == 1.0
