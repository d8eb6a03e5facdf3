"""A functional test suite for the toxicity model: short contrastive cases with known labels.

Why: AUROC on a labelled source says how well the model ranks *that source*; it cannot say whether the model
has learnt what hate speech is. Functional suites (in the style of published ones such as HateCheck,
Roettger et al. 2021) probe one ability at a time with minimal pairs: a hateful sentence and a non-hateful
sentence that shares most of its words (a threat towards a group vs a neutral statement about it; hate vs
its negation; hate vs counter-speech quoting it; ...). A bag of n-grams that keys on group names or on
profanity fails the contrasts; one that cannot see the target fails the hate.

Every sentence here was written for this module from those published *descriptions* (no dataset copied).
Groups mix ones named in ``augment.AUGMENTATION_GROUPS`` with ones no list names (``HELD_OUT_GROUPS`` in
``evaluation``), so the suite also checks that the model generalises past its lists. Each case is one
side of a pair: ``pair`` links the hateful sentence to its contrast.

Expected decisions (``expect``):
* ``toxic``: the scan flag must be raised (group-directed hate: derogation, dehumanisation, threats,
  obfuscated spellings of them);
* ``not_toxic``: the flag must stay down (neutral or positive statements about a group, negated hate,
  counter-speech, reclaimed terms used about oneself);
* ``not_hate``: profanity that is not hate. The platform's "toxic" includes offensive language, so such a
  text may be flagged, but not as ``hate``.
"""

from __future__ import annotations

from dataclasses import dataclass

LISTED = ["muslims", "jews", "women", "gay people", "immigrants", "black people", "trans people"]
UNLISTED = ["chinese people", "sikhs", "disabled people", "native americans"]
GROUPS = LISTED + UNLISTED

HATE_FAMILY = "group_directed_hate"
CONTRAST_FAMILY = "non_hateful_contrasts"


@dataclass(frozen=True)
class FunctionalCase:
    functionality: str
    family: str  # HATE_FAMILY or CONTRAST_FAMILY
    text: str
    expect: str  # "toxic" | "not_toxic" | "not_hate"
    pair: int  # cases with the same pair number are one minimal pair
    group: str | None = None

    def passed(self, toxic: bool, categories: list[str]) -> bool:
        """Did a model decision (scan flag and categories) meet the expectation?"""
        if self.expect == "toxic":
            return toxic
        if self.expect == "not_toxic":
            return not toxic
        return "hate" not in categories


# (hateful template, contrast template, contrast functionality). "{g}" is a group in the plural.
_GROUP_PAIRS: dict[str, list[tuple[str, str, str]]] = {
    "threat_against_group": [
        ("all {g} should be shot", "all {g} should be heard", "neutral_statement_about_group"),
        ("we need to wipe out the {g} once and for all", "we need to listen to the {g} once and for all",
         "neutral_statement_about_group"),
        ("i am going to hurt every one of those {g}", "i am going to meet every one of those {g}",
         "neutral_statement_about_group"),
        ("the {g} deserve to be beaten to death", "the {g} deserve to be treated with respect",
         "positive_statement_about_group"),
        ("someone should burn down the homes of the {g}", "someone should build more homes for the {g}",
         "neutral_statement_about_group"),
    ],
    "dehumanisation_of_group": [
        ("{g} are vermin", "{g} are people", "neutral_statement_about_group"),
        ("{g} are filthy animals who breed like rats", "{g} are ordinary people who raise families",
         "neutral_statement_about_group"),
        ("{g} are a disease infecting this country", "{g} are a part of this country",
         "neutral_statement_about_group"),
        ("{g} are subhuman parasites", "{g} are our friends and neighbours", "positive_statement_about_group"),
    ],
    "derogation_of_group": [
        ("i hate {g}, they are disgusting", "i love {g}, they are wonderful", "positive_statement_about_group"),
        ("{g} are too stupid to be trusted with anything", "{g} are trusted with important work every day",
         "neutral_statement_about_group"),
        ("the world would be better without {g}", "the world is better with {g} in it",
         "positive_statement_about_group"),
        ("{g} are worthless scum", "{g} are hard working people", "positive_statement_about_group"),
    ],
    "negated_hate": [
        ("{g} are worthless and should disappear", "{g} are not worthless and should never disappear",
         "negated_hate"),
        ("i hate {g}", "i do not hate {g} at all", "negated_hate"),
        ("{g} are all criminals", "no, {g} are not criminals", "negated_hate"),
    ],
    "counter_speech": [
        ("{g} are animals", "saying that {g} are animals is hateful and wrong, stop it", "counter_speech"),
        ("go back where you came from, {g}",
         "people shouting go back where you came from at {g} should be ashamed", "counter_speech"),
        ("kill all {g}", "anyone who writes kill all {g} should be reported and banned", "counter_speech"),
    ],
    "obfuscated_hate": [
        ("{g} are v3rm1n", "{g} are p30ple", "obfuscated_neutral"),
        ("k i l l all {g}", "h e l p all {g}", "obfuscated_neutral"),
        ("{g} are subhuuuuman trash", "{g} are suuuuper people", "obfuscated_neutral"),
    ],
}

# Pairs that are not instantiated per group: profanity that is not hate, reclaimed terms about oneself.
_OTHER_PAIRS: list[tuple[str, str, str, str, str]] = [
    # (hate functionality, hateful text, contrast functionality, contrast text, contrast expectation)
    ("derogation_of_group", "women are stupid bitches who belong in the kitchen", "profanity_not_hate",
     "holy shit, that was the best fucking concert of my life", "not_hate"),
    ("derogation_of_group", "immigrants are fucking parasites", "profanity_not_hate",
     "fuck, i locked myself out of the house again", "not_hate"),
    ("dehumanisation_of_group", "gay people are disgusting freaks of nature", "profanity_not_hate",
     "damn, this traffic is shit today", "not_hate"),
    ("threat_against_group", "i will beat up the next jew i see", "profanity_not_hate",
     "i will beat the shit out of this level tonight", "not_hate"),
    ("derogation_of_group", "disabled people are a useless burden on everyone", "profanity_not_hate",
     "what the hell, my phone died again", "not_hate"),
    ("derogation_of_group", "you are a dirty queer and nobody wants you here", "reclaimed_self_reference",
     "i am queer and proud of it", "not_toxic"),
    ("derogation_of_group", "trans people are freaks who should stay hidden", "reclaimed_self_reference",
     "as a trans woman i am happy to finally be myself", "not_toxic"),
    ("derogation_of_group", "black people are a plague on this city", "reclaimed_self_reference",
     "i am black and my family has lived in this city for generations", "not_toxic"),
    ("derogation_of_group", "muslims are backwards savages", "reclaimed_self_reference",
     "i am muslim and i fast during ramadan with my family", "not_toxic"),
    ("derogation_of_group", "sikhs are dirty and should leave", "reclaimed_self_reference",
     "i am a sikh and i wear my turban with pride", "not_toxic"),
]


def functional_cases() -> list[FunctionalCase]:
    """The whole suite (deterministic order)."""
    cases: list[FunctionalCase] = []
    pair = 0
    for functionality, templates in _GROUP_PAIRS.items():
        for hateful, contrast, contrast_name in templates:
            for group in GROUPS:
                cases.append(FunctionalCase(functionality, HATE_FAMILY, hateful.format(g=group), "toxic", pair,
                                            group))
                cases.append(FunctionalCase(contrast_name, CONTRAST_FAMILY, contrast.format(g=group),
                                            "not_toxic", pair, group))
                pair += 1
    for functionality, hateful, contrast_name, contrast, expect in _OTHER_PAIRS:
        cases.append(FunctionalCase(functionality, HATE_FAMILY, hateful, "toxic", pair))
        cases.append(FunctionalCase(contrast_name, CONTRAST_FAMILY, contrast, expect, pair))
        pair += 1
    return cases


def functional_report(cases: list[FunctionalCase], toxic: list[bool], categories: list[list[str]],
                      ) -> dict[str, object]:
    """Accuracy per functionality, per family, per group kind (listed vs unlisted) and per minimal pair."""
    def accuracy(members: list[int]) -> dict[str, float | int]:
        right = sum(cases[i].passed(toxic[i], categories[i]) for i in members)
        return {"n": len(members), "accuracy": round(right / len(members), 4) if members else 0.0}

    indices = list(range(len(cases)))
    per_functionality = {name: accuracy([i for i in indices if cases[i].functionality == name])
                         for name in sorted({case.functionality for case in cases})}
    per_family = {name: accuracy([i for i in indices if cases[i].family == name])
                  for name in (HATE_FAMILY, CONTRAST_FAMILY)}
    per_group_kind = {
        f"{family}/{kind}": accuracy([i for i in indices if cases[i].family == family and cases[i].group
                                      and (cases[i].group in LISTED) == (kind == "listed")])
        for family in (HATE_FAMILY, CONTRAST_FAMILY) for kind in ("listed", "unlisted")}
    pairs: dict[int, list[int]] = {}
    for i in indices:
        pairs.setdefault(cases[i].pair, []).append(i)
    both = sum(all(cases[i].passed(toxic[i], categories[i]) for i in members) for members in pairs.values())
    return {"per_family": per_family, "per_functionality": per_functionality, "per_group_kind": per_group_kind,
            "pairs_both_right": round(both / len(pairs), 4), "pairs": len(pairs), "cases": len(cases)}
