"""Quotation context and threat targets in the blocking stage: a character's quoted threat in a story is not a
threat to the reader, "kill it" (an animal, a weed) is not a threat to anyone. Real parser, real trained
bundle; every sentence is invented for this file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detect.toxicity import load_toxicity_bundle
from detect.toxicity.blocking import DENSE_NAMES, LEGACY_DENSE_NAMES, BlockingStage, dense_features
from detect.toxicity.context import is_speech_tagged, quoted_flags, text_context, window_context
from detect.toxicity.normalize import normalize_toxicity
from detect.toxicity.structure import parse_features


def test_quoted_flags_follow_curly_and_straight_quotes() -> None:
    assert quoted_flags("he said \u201cgo away now\u201d and left") == [False, False, True, True, True, False, False]
    assert quoted_flags('a "b c" d') == [False, True, True, False]
    assert quoted_flags("no quotes at all") == [False, False, False, False]


def test_speech_tag_needs_quotation_marks_and_a_tag() -> None:
    assert is_speech_tagged("\u201cRun,\u201d whispered the miller.")
    assert not is_speech_tagged("The miller whispered to the horse.")  # a tag without quotes: narration
    assert not is_speech_tagged('The sign read "closed".')  # quotes without a tag: a quoted slogan


def test_window_context_maps_windows_onto_the_raw_text() -> None:
    raw = "The road was long and dusty and empty. " * 4 + "\u201cI shall wait here until dawn,\u201d said Ann."
    words = normalize_toxicity(raw).text.split(" ")
    first, last = window_context(raw, len(words), [0, len(words) - 8], 8)
    assert first == (0.0, 1.0)  # narration, in a text that has tagged dialogue
    assert last[0] > 0.5 and last[1] == 1.0
    assert text_context(["plain words only"]) == [(0.0, 0.0)]


def test_a_threat_needs_a_person_to_threaten() -> None:
    goose, bread, throat, command, weeds = parse_features([normalize_toxicity(t).text for t in (
        "kill it and put it in the sack", "the cook will cut the bread at noon", "i will cut your throat",
        "find that clerk and make him bleed", "go outside and kill the weeds")])
    assert goose["threat_modal"] == 0.0 and bread["threat_modal"] == 0.0 and weeds["threat_modal"] == 0.0
    assert throat["plain_threat"] == 1.0 and command["plain_threat"] == 1.0


def test_quoted_narrated_threat_scores_below_the_same_threat_unquoted(toxicity_bundle_path: Path) -> None:  # noqa: F811
    model = load_toxicity_bundle(toxicity_bundle_path).model
    bare, story = model.score(["I will shoot you dead, you thief.",
                               "\u201cI will shoot you dead, you thief,\u201d growled the farmer in the tale."],
                              block_categories=())
    assert story.block_scores["threat"] < bare.block_scores["threat"]


def test_stages_fitted_before_the_context_columns_still_score(toxicity_bundle_path: Path) -> None:  # noqa: F811
    model = load_toxicity_bundle(toxicity_bundle_path).model
    texts = ["we will hunt you down tonight", "the orchard is in bloom"]
    matrix = dense_features(texts, np.array([0.9, 0.1]), model.blocking.gate, [(0.0, 0.0), (0.0, 0.0)])
    legacy = matrix[:, [DENSE_NAMES.index(name) for name in LEGACY_DENSE_NAMES]]
    head = type(model.blocking.heads["hate"])(max_iter=200).fit(legacy, np.array([1, 0]))
    old = BlockingStage(heads={"hate": head}, gate=model.blocking.gate)  # ``features`` defaults to the legacy set
    scores = old.scores(texts, np.array([0.9, 0.1]), [(0.0, 0.0), (0.0, 0.0)])
    assert scores["hate"].shape == (2,) and scores["hate"][0] > scores["hate"][1]
