"""Counterfactual identity copies and cue columns: what the model is trained on, and what it must not name."""

from __future__ import annotations

import random

from detect.toxicity.augment import AUGMENTATION_GROUPS, augment, counterfactuals, listed_groups_in, swap_groups
from detect.toxicity.evaluation import HELD_OUT_GROUPS, held_out_groups_in, mentions_any_identity
from detect.toxicity.lexicon import _CLASSES, LexiconFeatures, cue_counts


def test_swaps_keep_the_grammatical_slot_and_the_rest_of_the_text() -> None:
    assert swap_groups("muslims are welcome and muslim food is great", {"muslim": "jewish"}) == (
        "jews are welcome and jewish food is great")
    assert swap_groups("a woman and two gays", {"women": "asian", "gay": "black"}) == "a asian and two blacks"


def test_counterfactual_copies_name_other_listed_groups_only() -> None:
    rng = random.Random(0)
    copies = counterfactuals("immigrants should go home", rng)
    assert len(copies) == 2 and all(copy.endswith("should go home") for copy in copies)
    assert all(listed_groups_in(copy) and "immigrant" not in listed_groups_in(copy) for copy in copies)
    assert counterfactuals("the weather is nice today", rng) == []


def test_augment_repeats_labels_and_origins() -> None:
    texts, (labels, sources), origin = augment(["gays are great", "a quiet day"], [0, 1], ["a", "b"], seed=1)
    assert texts[0] == "gays are great" and len(texts) == 4 and texts[-1] == "a quiet day"
    assert labels == [0, 0, 0, 1] and sources == ["a", "a", "a", "b"] and origin == [0, 0, 0, 1]
    texts, _, _ = augment(["gays are great"], [0], copies=0)
    assert texts == ["gays are great"]


def test_held_out_groups_are_in_no_augmentation_or_rule_list() -> None:
    """The bias bench is only meaningful if no list the model uses names the held-out groups."""
    listed_words = {word for forms in AUGMENTATION_GROUPS.values() for form in forms for word in form.split()} - {
        "people"}
    rule_words = set().union(*_CLASSES.values())
    for group, terms in HELD_OUT_GROUPS.items():
        for term in terms:
            assert not set(term.split()) & (listed_words | rule_words), (group, term)
            assert not listed_groups_in(term) and cue_counts(term) == {}
    assert held_out_groups_in("Our new neighbours are Sikhs") == ["sikh_hindu"]
    assert mentions_any_identity("Native Americans live here") and not mentions_any_identity("a quiet day")


def test_cues_see_negation_addressees_and_generalisations_by_shape() -> None:
    assert cue_counts("all zorblians should be shot") == {"violence": 1, "generalisation": 1,
                                                          "generalisation_violence": 1}
    assert cue_counts("zorblians are not vermin") == {"neg_dehumanising": 1, "generalisation": 1}
    assert cue_counts("you idiot")["you_insult"] == 1 and "generalisation" not in cue_counts("you are an idiot")
    matrix = LexiconFeatures().fit(["x"]).transform(["you idiot", "a quiet day"])
    assert matrix.shape[0] == 2 and matrix[0].nnz == 2 and matrix[1].nnz == 0
