"""The toxicity library end to end on synthetic labelled data: train, card, save/load, scoring rules."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from detect.base import DetectionBatch, Detector, run_detectors
from detect.errors import DetectionError
from detect.toxicity import (
    ToxicityDetector,
    load_toxicity_bundle,
    read_toxicity_data,
    save_toxicity_bundle,
    train_toxicity_bundle,
)
from detect.toxicity.model import MAX_CHARS

INSULTS = ["idiot", "moron", "loser", "jerk", "clown", "fool", "scumbag", "creep"]
ADJECTIVES = ["stupid", "pathetic", "dumb", "worthless", "disgusting", "useless"]
NAMES = ["sam", "alex", "jo", "kim", "lee", "pat"]
NOUNS = ["garden", "meeting", "recipe", "concert", "weather", "book", "train", "match"]
GOOD = ["great", "lovely", "interesting", "fine", "quiet", "busy"]
TOXIC = ["you are a {adj} {insult}", "shut up you {adj} {insult}", "{name} is a {adj} {insult}",
         "i hate you, you {insult}", "go away you {adj} {insult}", "what a {adj} {insult} you are"]
CLEAN = ["the {noun} was {good} today", "thanks for the {noun}, {name}", "i think the {noun} is {good}",
         "see you at the {noun} tomorrow", "{name} said the {noun} was {good}", "what a {good} {noun} that was"]


def synthetic_toxicity_rows(count: int, seed: int = 0) -> list[dict]:
    """Two sources with different surface styles (chat: mentions and "lol"; forum: full stops)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        toxic = i % 2 == 0
        template = rng.choice(TOXIC if toxic else CLEAN)
        text = template.format(adj=rng.choice(ADJECTIVES), insult=rng.choice(INSULTS), name=rng.choice(NAMES),
                               noun=rng.choice(NOUNS), good=rng.choice(GOOD))
        source = "chat" if i % 4 < 2 else "forum"
        text = f"@{rng.choice(NAMES)}user {text} lol" if source == "chat" else f"{text.capitalize()}. #{i}"
        categories = [rng.choice(["offensive_language", "hate_speech"])] if toxic else []
        rows.append({"text": text, "label": "toxic" if toxic else "non_toxic", "categories": categories,
                     "source": source})
    return rows


@pytest.fixture(scope="session")
def toxicity_data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("toxicity") / "labelled.jsonl"
    lines = [json.dumps(row) for row in synthetic_toxicity_rows(400)]
    lines.insert(5, "{not json")
    lines.insert(9, json.dumps({"text": "x", "label": "maybe"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def toxicity_bundle_path(tmp_path_factory: pytest.TempPathFactory, toxicity_data_file: Path) -> Path:
    data = read_toxicity_data([toxicity_data_file])
    bundle = train_toxicity_bundle(data, name="toxicity", folds=3, target_fpr=0.05)
    return save_toxicity_bundle(bundle, tmp_path_factory.mktemp("bundles") / "toxicity")


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


def test_detector_interface(toxicity_bundle_path: Path) -> None:
    detector = ToxicityDetector(load_toxicity_bundle(toxicity_bundle_path).model)
    assert isinstance(detector, Detector)
    batch = run_detectors([detector], DetectionBatch.of(["you are a dumb moron", "see you at the book tomorrow"]))
    output = batch.outputs["toxicity"]
    assert output.scores["p_toxic"].shape == (2,) and np.all(np.isfinite(output.scores["p_toxic"]))
    assert output.diagnostics[0]["toxic"] and not output.diagnostics[1]["toxic"]


def test_loading_refuses_other_directories(tmp_path: Path, toxicity_bundle_path: Path) -> None:
    with pytest.raises(DetectionError, match="no toxicity bundle") as error:
        load_toxicity_bundle(tmp_path)
    assert "train-toxicity" in error.value.hint
    (tmp_path / "card.json").write_text(json.dumps({"kind": "machine-text", "format": 1}))
    (tmp_path / "model.joblib").write_bytes((toxicity_bundle_path / "model.joblib").read_bytes())
    with pytest.raises(DetectionError, match="not a toxicity bundle"):
        load_toxicity_bundle(tmp_path)
