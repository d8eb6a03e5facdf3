"""Hand-written training rows for the FIRST stage (``p_toxic``): group-directed hate and its look-alikes.

Why: ``p_toxic`` is the contract's score, and the labelled sources teach it "profanity means toxic" (tweets)
and "mentions a group in a forum means toxic" far more than "a hostile predicate about a group means hate".
Short contrasting templates, each instantiated for every ``augment.AUGMENTATION_GROUPS`` group (a
counterfactual identity swap by construction), give the first stage the pairs a bag of words cannot infer:
"i hate {g}" vs "i don't hate {g}" vs "i love {g}", "{g} are x" vs "calling {g} x is wrong". They train as
one extra source (``SOURCE``), so its two (source, label) cells weigh as much as one real source's.

The labels are the *scan* labels (toxic = 1): hate and threats are toxic, and so is an insult aimed at a
person (a reviewer should see it); profanity aimed at no one, counter-speech, negated or reported hate,
positive and neutral statements about groups and reclaimed terms are not. The blocking stage's hard cases
(``hard_cases``) are added too, mapped the same way.

Independence: written after the third suite (``hate_suite``) was frozen, sharing none of its sentences (a
test checks) and avoiding its wording; every sentence was invented here, none copied from a data file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from detect.toxicity.augment import AUGMENTATION_GROUPS
from detect.toxicity.hard_cases import hard_cases
from detect.toxicity.normalize import normalize_toxicity

SOURCE = "first_stage_cases"


_INSULT_FAMILIES = ("insult_at_person", "hard_case:insult_at_individual_no_threat")


@dataclass(frozen=True)
class FirstStageCase:
    text: str
    toxic: bool
    family: str

    @property
    def categories(self) -> tuple[str, ...]:
        """The category heads' targets: an insult at a person is ``offensive``, other toxic cases ``hate``."""
        if not self.toxic:
            return ()
        return ("offensive",) if self.family in _INSULT_FAMILIES else ("hate",)


# (family, toxic, templates); "{g}" is a plural group noun.
_GROUP_TEMPLATES: list[tuple[str, bool, tuple[str, ...]]] = [
    ("emotion", True, (
        "i hate {g} so much", "i really despise {g}", "{g} make me want to throw up",
        "i am sick to death of {g}")),
    ("attributes", True, (
        "{g} are thieving and violent", "{g} are all liars and frauds", "{g} are ugly and stupid",
        "{g} are evil to the core")),
    ("dehumanisation", True, (
        "{g} are a disease", "{g} are like a swarm of insects", "{g} are mere animals")),
    ("normative", True, (
        "{g} should all be locked up", "get rid of the {g} for good", "{g} deserve to suffer",
        "{g} should not be allowed to live here")),
    ("threat", True, (
        "i will kill any {g} i see", "we are going to hurt the {g} badly")),
    ("negated_positive", True, (
        "{g} are not human", "{g} lives are worth nothing", "{g} bring nothing but misery")),
    ("question_opinion", True, (
        "why are {g} such scum?", "i believe {g} are a threat to our children")),
    ("profane_hate", True, ("fuck all {g}", "{g} are shit people")),
    ("negated_hate", False, (
        "i do not hate {g}", "{g} are not a disease", "i would never hurt {g}",
        "{g} are not liars", "it is not true that {g} are violent")),
    ("counter_speech", False, (
        "calling {g} animals is racist and wrong", "people who hate {g} need to grow up",
        "he called {g} scum and got banned, good", "you cannot say {g} should be locked up, that is vile",
        "the sign saying {g} are a disease was torn down")),
    ("positive", False, (
        "i love {g} dearly", "{g} are brilliant", "i adore my {g} friends", "{g} are kind and generous",
        "we welcome {g} here", "i respect {g} a lot")),
    ("neutral", False, (
        "i am one of the {g} in my class", "many {g} live in this area", "we met some {g} at the market",
        "{g} celebrated the holiday yesterday", "the article was about {g}")),
]

_OTHER: list[tuple[str, bool, tuple[str, ...]]] = [
    ("untargeted_profanity", False, (
        "fuck, that hurt", "oh shit, the cat knocked over the vase", "damn, what a day",
        "this fucking rain never stops", "well shit, the car won't start", "hell, i forgot my wallet",
        "son of a bitch, the glue dried before i was done", "ah fuck, i stubbed my toe on the bed frame",
        "shitty luck today, i lost both gloves", "fucking brilliant concert last night",
        "crap, the milk went sour", "goddammit, the printer ran out of ink")),
    ("insult_at_person", True, (
        "you are a worthless idiot", "shut your mouth, you stupid clown", "he is a disgusting pig",
        "go to hell, you pathetic loser")),
]


def first_stage_cases() -> list[FirstStageCase]:
    """Our templates for every augmentation group, then the blocking stage's hard cases mapped to scan labels."""
    groups = [forms[1] for forms in AUGMENTATION_GROUPS.values()]
    out = [FirstStageCase(template.format(g=group), toxic, family)
           for family, toxic, templates in _GROUP_TEMPLATES for template in templates for group in groups]
    out += [FirstStageCase(text, toxic, family) for family, toxic, texts in _OTHER for text in texts]
    out += [FirstStageCase(case.text, case.hate or case.threat or case.family == "insult_at_individual_no_threat",
                           f"hard_case:{case.family}") for case in hard_cases()]
    return out


@lru_cache(maxsize=1)
def first_stage_rows() -> tuple[tuple[str, ...], tuple[int, ...], tuple[tuple[str, ...], ...]]:
    """(normalised texts, labels, category sets) of every case, ready to append to the training rows."""
    cases = first_stage_cases()
    return (tuple(normalize_toxicity(case.text).text for case in cases), tuple(int(case.toxic) for case in cases),
            tuple(case.categories for case in cases))
