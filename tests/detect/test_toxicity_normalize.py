"""Toxicity normalisation: obfuscation is undone, source artefacts are dropped, nothing blows up."""

from __future__ import annotations

import pytest

from detect.toxicity.normalize import normalize_toxicity


@pytest.mark.parametrize(("text", "expected"), [
    ("You are an IDIOT", "you are an idiot"),
    ("you are an 1d10t", "you are an idiot"),
    ("you are an i d i o t", "you are an idiot"),
    ("you are an i.d.i.o.t", "you are an idiot"),
    ("you are an idiooooot!!!", "you are an idiot"),
    ("you are an ｉｄｉｏｔ", "you are an idiot"),  # fullwidth
    ("you are an idi\u200bot", "you are an idiot"),  # zero-width space
    ("yоu are an idiot", "you are an idiot"),  # Cyrillic o
    ("shut up @ss", "shut up ass"),  # "@ss" is leetspeak, not a mention
])
def test_obfuscations_normalise_to_the_plain_form(text: str, expected: str) -> None:
    assert normalize_toxicity(text).text == expected


def test_twitter_artefacts_are_removed() -> None:
    text = "!!! RT @some_user: I can't wait &amp; see http://t.co/abc #Monday www.example.com"
    assert normalize_toxicity(text).text == "i cant wait see monday"


def test_numbers_without_letters_stay_numbers() -> None:
    assert normalize_toxicity("I have 2 dogs and 15 cats").text == "i have 2 dogs and 15 cats"


@pytest.mark.parametrize("text", ["", "   ", "😂😂😂", "&#128514;&#128514;", "!!!???"])
def test_nothing_to_score_gives_empty_text(text: str) -> None:
    normalized = normalize_toxicity(text)
    assert normalized.text == "" and normalized.letters == 0


def test_script_share() -> None:
    assert normalize_toxicity("Я тебя ненавижу").latin_share == 0.0
    assert normalize_toxicity("Je suis très content").latin_share == 1.0


@pytest.mark.parametrize("text", ["x" * 50_000, "ab." * 20_000, "a1" * 25_000])
def test_long_unbroken_runs_finish(text: str) -> None:
    """Regexes with unbounded repeats before a literal backtrack quadratically: these would hang."""
    assert normalize_toxicity(text).text


def test_identity_terms_are_kept_so_group_directed_hate_keeps_its_target() -> None:
    """Bias is removed by counterfactual copies at training time (test_toxicity_augment), not by deletion."""
    assert normalize_toxicity("I am a gay man").text == "i am a gay man"
    assert normalize_toxicity("Muslims pray five times a day").text == "muslims pray five times a day"
    assert normalize_toxicity("Jewish families; Black history").text == "jewish families black history"
