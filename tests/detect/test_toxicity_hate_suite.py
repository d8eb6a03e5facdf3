"""The third functional suite (group-directed hate, scored on p_toxic) is frozen and shaped as its docstring says."""

from __future__ import annotations

from collections import Counter

from detect.toxicity.hard_cases import hard_cases
from detect.toxicity.hate_suite import (
    HATE_SUITE_GROUPS,
    KINDS,
    hate_suite_cases,
    hate_suite_digest,
    hate_suite_functionalities,
)
from detect.toxicity.suite import suite_cases

# Pinned when the suite was written, before any first-stage change of issue 29's third round. Changing a case
# means writing a new suite version, not editing this one.
FROZEN_DIGEST = "89991b43001784cc68e8989acc918fd5fa97d2945dbecffb1c64d8585dbf0f7f"


def test_hate_suite_is_frozen() -> None:
    assert hate_suite_digest() == FROZEN_DIGEST


def test_hate_suite_has_twenty_functionalities_and_every_kind() -> None:
    cases = hate_suite_cases()
    names = Counter(case.functionality for case in cases)
    assert len(names) == len(hate_suite_functionalities()) >= 20
    assert len({case.text for case in cases}) == len(cases)
    assert {case.kind for case in cases} == set(KINDS)
    assert {case.group for case in cases if case.group} == set(HATE_SUITE_GROUPS)
    kinds = {name: {case.kind for case in cases if case.functionality == name} for name in names}
    assert all(len(values) == 1 for values in kinds.values())


def test_hate_suite_shares_no_sentence_with_training_cases_or_earlier_suites() -> None:
    from detect.toxicity.first_stage_cases import first_stage_cases

    ours = {case.text for case in hate_suite_cases()}
    assert not ours & {case.text for case in hard_cases()}
    assert not ours & {case.text for case in first_stage_cases()}
    assert not ours & {case.text for case in suite_cases()}
