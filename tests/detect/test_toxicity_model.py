"""The toxicity library end to end on synthetic labelled data: train, card, save/load, scoring rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from detect.errors import DetectionError
from detect.toxicity import (
    load_toxicity_bundle,
    read_toxicity_data,
)
from detect.toxicity.model import MAX_CHARS


def test_reader_rejects_bad_lines_and_deduplicates(toxicity_data_file: Path) -> None:
    data = read_toxicity_data([toxicity_data_file])
    assert len(data.rejected) == 2 and any("label" in reason for reason in data.rejected)
    assert set(data.sources.tolist()) == {"chat", "forum"}
    assert data.categories() == ["hate", "offensive"]  # aliases of the data's category names
    assert len({row.features_text for row in data.rows}) == len(data.rows)


def test_reader_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DetectionError, match="does not exist"):
        read_toxicity_data([tmp_path / "missing.jsonl"])
    one_class = tmp_path / "one.jsonl"
    one_class.write_text(json.dumps({"text": "hello there", "label": "non_toxic"}) + "\n")
    with pytest.raises(DetectionError, match="toxic and non-toxic") as error:
        read_toxicity_data([one_class])
    assert error.value.hint


def test_card_has_fingerprint_metrics_threshold_and_cross_source(toxicity_bundle_path: Path) -> None:
    card = json.loads((toxicity_bundle_path / "card.json").read_text())
    assert card["kind"] == "toxicity" and len(card["data"]["fingerprint"]) == 64
    assert card["metrics"]["cross_validated"]["pooled"]["auroc"] > 0.9
    assert {"chat", "forum"} <= card["metrics"]["cross_validated"].keys()
    assert {(row["train"], row["test"]) for row in card["metrics"]["cross_source"]} == {
        ("chat", "forum"), ("forum", "chat")}
    assert 0 < card["threshold"]["value"] < 1 and card["threshold"]["target_fpr"] == 0.05
    assert {"fpr_with_identity", "fpr_without_identity"} <= card["metrics"]["bias"].keys()
    assert len(card["model_sha256"]) == 64


def test_scores_separate_and_survive_obfuscation(toxicity_bundle_path: Path) -> None:
    model = load_toxicity_bundle(toxicity_bundle_path).model
    plain, leet, spaced, clean = model.score(["you are a stupid idiot", "y0u are a stup1d 1d10t",
                                              "you are a s t u p i d i d i o t", "the garden was lovely today"])
    assert plain.toxic and plain.categories and set(plain.categories) <= {"hate", "offensive"}
    assert leet.p_toxic == pytest.approx(plain.p_toxic) and spaced.toxic
    assert not clean.toxic and clean.categories == [] and clean.p_toxic < plain.p_toxic


def test_bad_inputs_get_a_score_and_a_note(toxicity_bundle_path: Path) -> None:
    model = load_toxicity_bundle(toxicity_bundle_path).model
    huge = "the garden was lovely today. " * (MAX_CHARS // 25) + "you are a stupid idiot"
    empty, emoji, big, russian, french, long_toxic = model.score([
        "", "😂😂😂", "x" * 5_000_000, "Я тебя ненавижу, ты полный идиот и дурак",
        "Je pense que le jardin était très joli aujourd'hui avec les enfants", huge])
    for result in (empty, emoji):
        assert result.p_toxic == 0.0 and not result.toxic and "no words" in result.note
    assert "first" in big.note
    assert "non-Latin" in russian.note and "English" in french.note
    assert not long_toxic.toxic and "first" in long_toxic.note  # the insult lies past the scored prefix
    windowed = model.score(["the garden was lovely today. " * 100 + "you are a stupid idiot"])[0]
    assert windowed.toxic and "windows" in windowed.note  # one toxic window is enough


def test_scores_keep_input_order_and_flag_only_the_toxic(toxicity_bundle_path: Path) -> None:
    scores = load_toxicity_bundle(toxicity_bundle_path).model.score(["you are a dumb moron",
                                                                     "see you at the book tomorrow"])
    assert len(scores) == 2 and all(np.isfinite(s.p_toxic) for s in scores)
    assert scores[0].toxic and not scores[1].toxic


def test_loading_refuses_other_directories(tmp_path: Path, toxicity_bundle_path: Path) -> None:
    with pytest.raises(DetectionError, match="no toxicity bundle") as error:
        load_toxicity_bundle(tmp_path)
    assert "train-toxicity" in error.value.hint
    (tmp_path / "card.json").write_text(json.dumps({"kind": "machine-text", "format": 1}))
    (tmp_path / "model.joblib").write_bytes((toxicity_bundle_path / "model.joblib").read_bytes())
    with pytest.raises(DetectionError, match="not a toxicity bundle"):
        load_toxicity_bundle(tmp_path)
