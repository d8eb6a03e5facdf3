"""Stance columns and group-masked context n-grams: the first stage's cheap structure (no parse)."""

from __future__ import annotations

import numpy as np

from detect.toxicity.augment import AUGMENTATION_GROUPS
from detect.toxicity.features import build_features
from detect.toxicity.first_stage_cases import SOURCE, first_stage_cases, first_stage_rows
from detect.toxicity.normalize import normalize_toxicity
from detect.toxicity.stance import GROUP_TOKEN, STANCE_FEATURES, group_context_terms, stance_counts
from detect.toxicity.training import fit_model


def counts(text: str) -> dict[str, int]:
    return stance_counts(normalize_toxicity(text).text)


def test_stance_tells_hostility_from_its_look_alikes() -> None:
    assert "stance_group" not in counts("zorbians are filthy rats")  # an unlisted word is no group
    assert counts("sikhs are filthy parasites").get("stance_group_negative") == 1
    assert counts("I really hate sikhs").get("stance_hostile_group") == 1
    assert counts("I do not hate sikhs").get("stance_negated") == 1
    assert "stance_hostile_group" not in counts("I do not hate sikhs")
    assert counts("calling sikhs parasites is wrong").get("stance_countered") == 1
    assert counts("I love sikhs").get("stance_positive") == 1
    assert counts("sikhs are not human").get("stance_negated_positive") == 1
    assert counts("left-handed people are lovely").get("stance_positive") == 1  # "<word> people" is a group
    assert counts("gay people held a picnic") == {"stance_group": 1}  # one mention, not two
    assert counts("well damn, the kettle broke") == {}


def test_group_context_masks_the_group() -> None:
    terms = group_context_terms(normalize_toxicity("we should deport the hindus right now").text)
    assert "the " + GROUP_TOKEN in terms and GROUP_TOKEN + " right now" in terms
    assert not any("hindus" in term for term in terms)
    assert group_context_terms(normalize_toxicity("the weather is fine").text) == []


def test_feature_union_members_are_optional_so_old_bundles_keep_their_columns() -> None:
    texts = ["muslims are lovely neighbours", "i hate the rain"]
    plain = build_features().fit(texts)
    full = build_features(stance=True, group_context=True).fit(texts)
    assert full.transform(texts).shape[1] > plain.transform(texts).shape[1]
    assert [name for name, _ in full.transformer_list][-2:] == ["stance", "group_context"]
    assert len(STANCE_FEATURES) == 7


def test_cases_cover_every_group_and_both_labels() -> None:
    cases = first_stage_cases()
    texts, labels, sets = first_stage_rows()
    assert len(texts) == len(cases) == len(labels) == len(sets)
    assert set(labels) == {0, 1}
    for _, plural in AUGMENTATION_GROUPS.values():
        assert any(plural in case.text for case in cases)
    assert all(("hate" in s or "offensive" in s) == bool(y) for s, y in zip(sets, labels, strict=True))
    assert SOURCE == "first_stage_cases"


def test_first_stage_trained_with_cases_ranks_hate_above_its_contrasts() -> None:
    """A real fit on a few invented rows plus the hand-written cases: unseen sentences about a group no
    training row names rank hate over praise and negation."""
    rows = ["what a lovely morning", "the train was late", "you are a useless idiot", "this is garbage, you moron"]
    labels = np.array([0, 0, 1, 1])
    features, classifier, _ = fit_model([normalize_toxicity(t).text for t in rows], labels, [(), (), (), ()], [],
                                        seed=0, sources=np.array(["invented"] * 4))

    def p(text: str) -> float:
        return float(classifier.predict_proba(features.transform([normalize_toxicity(text).text]))[0, 1])

    hateful = p("i truly hate yazidis, they are filthy")
    for contrast in ("i truly love yazidis, they are kind", "i do not hate yazidis at all"):
        assert hateful > p(contrast), contrast
