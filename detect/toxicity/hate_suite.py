"""The third functional suite (frozen): group-directed hate against its look-alikes, scored on ``p_toxic``.

Why a third suite: the first two were used to choose between variants, so they can no longer say whether a
change generalises; and both are scored on the *blocking* score, while the contract's score is ``p_toxic``
(the first stage). This suite was written and frozen by a digest test (``tests/detect/test_toxicity_hate_suite.py``)
before any first-stage change of issue 29's third round, and it is never trained on.

The label is ``kind``:

* ``hate``: hate aimed at a protected group (strong negative emotion, negative attributes, dehumanisation,
  implicit derogation, threats, normative threats, hate with profanity, reference in a later clause or
  sentence, negated positive statements, questions, opinions, spelling variants);
* ``not_hate``: the contrasts a bag of words confuses with it (negated hate, counter-speech that quotes or
  names the hate, neutral and positive statements about groups, "i love {g}", reclaimed terms, profanity aimed
  at no one, abuse aimed at objects);
* ``abuse``: abuse aimed at a person or a non-protected group (toxic, so a *toxicity* score may rank it high;
  kept out of the hate AUROC and reported on its own).

The headline figure is the AUROC of a score over ``hate`` vs ``not_hate``. Every sentence was invented for
this module; no data file was copied, and no sentence repeats the training templates or the earlier suites.
Groups: seven common protected groups plus three that no training list names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

HATE_SUITE_VERSION = 3
HATE_SUITE_GROUPS = ("women", "trans people", "gay men", "black people", "disabled people", "muslims",
                     "immigrants", "hindus", "deaf people", "roma")
KINDS = ("hate", "not_hate", "abuse")


@dataclass(frozen=True)
class HateSuiteCase:
    functionality: str
    text: str
    kind: str
    group: str | None = None


# functionality -> (kind, templates). "{g}" is a plural group noun phrase.
_GROUP_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "strong_negative_emotion": ("hate", (
        "i can't stand {g}, they make my skin crawl",
        "honestly i detest {g} more than anything on this earth",
        "nothing disgusts me more than {g}",
    )),
    "negative_attributes": ("hate", (
        "{g} are greedy, dishonest and repulsive",
        "{g} are too stupid to be trusted with anything",
    )),
    "dehumanisation": ("hate", (
        "{g} are nothing but a pack of hyenas",
        "{g} are a blight that poisons every town they touch",
    )),
    "implicit_derogation": ("hate", (
        "{g} should go back to scrubbing floors where they belong",
        "a neighbourhood full of {g} is a neighbourhood nobody decent can live in",
    )),
    "direct_threat": ("hate", (
        "i am going to torch the next {g} i meet",
        "the {g} in my street will get what is coming to them, i will see to it",
    )),
    "normative_threat": ("hate", (
        "{g} ought to be driven out of this country by force",
        "the world would be better off if {g} were all dead",
    )),
    "hate_with_profanity": ("hate", (
        "fuck {g}, every last one of them",
        "{g} are a fucking waste of oxygen",
    )),
    "reference_later_clause": ("hate", (
        "i have worked with plenty of {g} and every single one was a lying crook",
    )),
    "reference_later_sentence": ("hate", (
        "more {g} moved onto my floor. i hope they all choke.",
    )),
    "negated_positive": ("hate", (
        "{g} do not deserve an ounce of respect",
        "{g} have never given this world anything worth having",
    )),
    "hate_as_question": ("hate", (
        "why are {g} so incapable of basic honesty?",
    )),
    "hate_as_opinion": ("hate", (
        "in my view {g} are a menace to decent people",
        "i think {g} should be stripped of every right they have",
    )),
    "spelling_variant": ("hate", (
        "{g} are d1sgust1ng cr00ks",
        "i h a t e {g}",
    )),
    "negated_hate": ("not_hate", (
        "i would never say that {g} are a menace",
        "i don't hate {g} at all",
        "{g} are not dangerous and they are not dishonest",
    )),
    "counter_speech_quote": ("not_hate", (
        "someone sprayed \"{g} are hyenas\" on the bridge and it made me furious",
        "when my uncle said \"{g} should be driven out\" i walked out of the dinner",
    )),
    "counter_speech_reference": ("not_hate", (
        "stop telling people that {g} are criminals, it is simply false",
        "it is cruel and ignorant to call {g} a blight",
    )),
    "neutral_identity": ("not_hate", (
        "my two closest neighbours are {g}",
        "a group of {g} started a choir at the library",
        "the report looks at how {g} use public transport",
    )),
    "positive_identity": ("not_hate", (
        "i really admire {g} for how they look after each other",
        "{g} have made this city a better place to live",
    )),
    "love_statement": ("not_hate", (
        "i love {g}",
        "{g} are wonderful and i am lucky to know so many",
    )),
}

_OTHER_TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "reclaimed_terms": ("not_hate", (
        "me and my fellow queers are throwing a karaoke night",
        "us crips in the book club argued about the ending for an hour",
        "proud dyke here, married for ten years this spring",
        "my fat sisters and i went swimming in bright bikinis",
    )),
    "untargeted_profanity": ("not_hate", (
        "what the fuck, my phone died again",
        "shit, i forgot the birthday cake in the oven",
        "damn it, the bus is late for the third day running",
        "holy crap that thunderstorm was loud",
        "fucking finally, the exam results are out",
    )),
    "abuse_at_objects": ("not_hate", (
        "this printer is a worthless piece of junk",
        "i absolutely loathe brussels sprouts",
        "that film was a disgusting waste of two hours",
        "my old laptop is a useless heap of garbage",
    )),
    "abuse_at_individual": ("abuse", (
        "you are a pathetic little worm, daniel",
        "shut up, you brainless idiot",
        "my landlord is a greedy, lying snake",
        "you make me sick, get out of my sight",
    )),
    "abuse_at_non_protected_group": ("abuse", (
        "estate agents are bloodsucking leeches",
        "referees are blind morons, every one of them",
        "politicians are lying scum",
        "telemarketers are the lowest form of life",
    )),
}


def hate_suite_cases() -> list[HateSuiteCase]:
    """All cases in a fixed order: group templates for every group, then the group-free ones."""
    cases = [HateSuiteCase(name, template.format(g=group), kind, group)
             for name, (kind, templates) in _GROUP_TEMPLATES.items()
             for template in templates for group in HATE_SUITE_GROUPS]
    cases += [HateSuiteCase(name, text, kind)
              for name, (kind, texts) in _OTHER_TEMPLATES.items() for text in texts]
    return cases


def hate_suite_digest(cases: list[HateSuiteCase] | None = None) -> str:
    """SHA-256 of the cases as canonical JSON: what the freeze test pins."""
    payload = json.dumps([asdict(case) for case in (cases or hate_suite_cases())], sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def hate_suite_functionalities() -> list[str]:
    return list(_GROUP_TEMPLATES) + list(_OTHER_TEMPLATES)
