"""The second functional suite is frozen: its cases, labels and size cannot drift without failing here."""

from __future__ import annotations

from collections import Counter

from detect.toxicity.suite import SUITE_GROUPS, functionalities, suite_cases, suite_digest

# Pinned when the suite was written, before any model change of that round (issue 29). Changing a case means
# writing a new suite version, not editing this one.
FROZEN_DIGEST = "952efb3f3c4b5657f0e9de767f4d6472fdb99113862fc94008e600aeafbfa4e8"


def test_suite_is_frozen() -> None:
    assert suite_digest() == FROZEN_DIGEST


def test_suite_covers_at_least_twenty_functionalities_with_both_labels() -> None:
    cases = suite_cases()
    names = Counter(case.functionality for case in cases)
    assert len(names) == len(functionalities()) >= 20
    assert len({case.text for case in cases}) == len(cases)
    labels = {name: {case.must_block for case in cases if case.functionality == name} for name in names}
    assert all(len(values) == 1 for values in labels.values())  # one label per functionality
    assert {True, False} == {next(iter(values)) for values in labels.values()}
    required = {"counter_speech_rebuttal", "negated_hate", "reported_hate", "reclaimed_terms",
                "untargeted_profanity", "dehumanisation_novel_words", "group_threat", "threat_against_individual",
                "neutral_identity_statement", "fiction_with_violence"}
    assert required <= set(names)
    assert {case.group for case in cases if case.group} == set(SUITE_GROUPS)


def test_suite_texts_are_invented_not_lexicon_bound() -> None:
    """Many hateful cases carry no cue-lexicon word: the suite can tell whether a model generalises."""
    from detect.toxicity.lexicon import cue_counts
    from detect.toxicity.normalize import normalize_toxicity

    hateful = [case for case in suite_cases() if case.must_block]
    without = [case for case in hateful if not cue_counts(normalize_toxicity(case.text).text)]
    assert len(without) >= len(hateful) // 3
