"""The functional suite: well-formed minimal pairs, honest accounting, and a real model run on it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from detect.toxicity import read_toxicity_data, train_toxicity_bundle
from detect.toxicity.functional import (
    CONTRAST_FAMILY,
    GROUPS,
    HATE_FAMILY,
    LISTED,
    UNLISTED,
    functional_cases,
    functional_report,
)

SHARED_TOXICITY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "toxicity"
REQUIRED = {"threat_against_group", "dehumanisation_of_group", "neutral_statement_about_group", "negated_hate",
            "counter_speech", "profanity_not_hate", "reclaimed_self_reference", "obfuscated_hate"}


def test_cases_are_minimal_pairs_covering_every_functionality() -> None:
    cases = functional_cases()
    assert {case.functionality for case in cases} >= REQUIRED
    assert len({case.text for case in cases}) == len(cases)  # no sentence twice
    pairs = Counter(case.pair for case in cases)
    assert set(pairs.values()) == {2}
    for number in pairs:
        hateful, contrast = [case for case in cases if case.pair == number]
        assert (hateful.family, hateful.expect) == (HATE_FAMILY, "toxic")
        assert contrast.family == CONTRAST_FAMILY and contrast.expect in {"not_toxic", "not_hate"}
    assert {case.group for case in cases if case.group} == set(GROUPS) and set(LISTED).isdisjoint(UNLISTED)


def test_report_counts_right_and_wrong_decisions() -> None:
    cases = functional_cases()
    oracle = functional_report(cases, [case.expect == "toxic" for case in cases], [[] for _ in cases])
    assert oracle["pairs_both_right"] == 1.0
    assert all(row["accuracy"] == 1.0 for row in oracle["per_functionality"].values())
    everything = functional_report(cases, [True] * len(cases), [["hate"]] * len(cases))
    assert everything["per_family"][HATE_FAMILY]["accuracy"] == 1.0
    assert everything["per_family"][CONTRAST_FAMILY]["accuracy"] == 0.0 and everything["pairs_both_right"] == 0.0
    profanity_as_offensive = functional_report(cases, [True] * len(cases), [["offensive"]] * len(cases))
    assert profanity_as_offensive["per_functionality"]["profanity_not_hate"]["accuracy"] == 1.0


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_TOXICITY.is_dir(), reason="../shared/data/toxicity is not on this machine")
def test_a_model_trained_on_the_shared_sources_ranks_hate_over_its_contrasts() -> None:
    """Threats and dehumanisation must outscore the neutral sentence of the same pair for most groups, named
    in the augmentation list or not (the suite's bars themselves are measured in bench/, not asserted)."""
    data = read_toxicity_data(sorted(SHARED_TOXICITY.glob("*.jsonl")), max_per_source=800, seed=0)
    model = train_toxicity_bundle(data, name="functional", folds=2, cross_source=False).model
    cases = [case for case in functional_cases() if case.group is not None]
    scores = model.score([case.text for case in cases])
    by_pair: dict[int, dict[str, float]] = {}
    for case, score in zip(cases, scores, strict=True):
        by_pair.setdefault(case.pair, {})[case.family] = score.p_toxic
    group_of = {case.pair: case.group for case in cases}
    wanted = {case.pair for case in cases if case.functionality in {"threat_against_group",
                                                                     "dehumanisation_of_group"}}
    for kind in (LISTED, UNLISTED):
        members = [p for p in wanted if group_of[p] in kind]
        ordered = sum(by_pair[p][HATE_FAMILY] > by_pair[p][CONTRAST_FAMILY] for p in members)
        assert ordered / len(members) >= 0.8, (kind, ordered, len(members))
