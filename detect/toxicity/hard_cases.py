"""Hand-written training cases for the blocking stage: hard positives and hard negatives, per group.

Why: the labelled sources have almost no threats, almost no counter-speech or reported hate, and no fiction,
so a model trained on them alone cannot learn what separates "[group] are vermin" from "calling [group]
vermin is disgusting". These short templates supply those contrasts; each is instantiated for every
``augment.AUGMENTATION_GROUPS`` group (a counterfactual identity swap by construction: the same sentence
for every group, with the same label), so no group carries evidence of its own.

Independence from the evaluation: these sentences were written separately from the frozen functional suite
(``suite``) and share none of its sentences; each template carries the suite functionality it resembles
(``family``) so the leave-one-functionality-out evaluation can drop the matching templates before scoring
that functionality. Every sentence was invented for this module; no data file was copied.
"""

from __future__ import annotations

from dataclasses import dataclass

from detect.toxicity.augment import AUGMENTATION_GROUPS


@dataclass(frozen=True)
class HardCase:
    text: str
    hate: bool
    threat: bool
    family: str  # the suite functionality it resembles (dropped together in leave-one-functionality-out)


# (family, hate, threat, templates). "{g}" is a plural group noun.
_GROUP_TEMPLATES: list[tuple[str, bool, bool, tuple[str, ...]]] = [
    ("dehumanisation_novel_words", True, False, (
        "{g} are a herd of cattle that should be fenced in", "{g} are a rot spreading from street to street",
        "{g} are barely more than beasts of burden")),
    ("dehumanisation_lexicon_words", True, False, (
        "{g} are filthy rats and everybody knows it", "{g} are a cancer on this nation")),
    ("group_threat", True, True, (
        "we will hunt down the {g} one by one", "the {g} here are going to pay in blood very soon",
        "i am going to shoot the first {g} who walks past my house")),
    ("incitement_against_group", True, True, (
        "drive the {g} out of town with fire", "everyone should grab a bat and teach the {g} a lesson",
        "burn down the houses of the {g} and let them freeze")),
    ("exclusion_and_segregation", True, False, (
        "{g} must be banned from every office and every job", "no {g} should ever set foot in our town")),
    ("implicit_derogation", True, False, (
        "lock your doors when {g} move into the street", "{g} are born liars and cheats")),
    ("hate_as_question", True, False, (
        "why do we even let {g} breathe the same air as us?",)),
    ("hate_by_pronoun", True, False, (
        "more {g} moved in downstairs. they are animals and should be caged",)),
    ("counter_speech_rebuttal", False, False, (
        "saying {g} are rats is vile and you should stop", "anyone who calls {g} a cancer is spreading hate",
        "it is wrong to claim {g} are born liars")),
    ("negated_hate", False, False, (
        "{g} are not rats and never have been", "i do not think {g} should be banned from anything",
        "no one believes {g} are beasts")),
    ("reported_hate", False, False, (
        "the pamphlet said {g} were a cancer, and the council condemned it",
        "witnesses told the court the man threatened to hunt down the {g}",
        "the report describes how {g} were called animals in wartime newspapers")),
    ("quoted_hate_with_condemnation", False, False, (
        "the graffiti read \"{g} out\" and neighbours painted over it the same day",)),
    ("neutral_identity_statement", False, False, (
        "{g} held a meeting about the new bus routes", "the census counted more {g} in the north this year",
        "a book club for {g} meets on tuesdays", "{g} are voters, parents and workers like anyone else")),
    ("positive_identity_statement", False, False, (
        "{g} have given this town its best bakery", "i am proud of the {g} who organised the food drive")),
    ("support_and_solidarity", False, False, (
        "we will protect {g} from anyone who tries to hurt them",
        "threats against {g} will be reported to the police")),
]

_OTHER: list[tuple[str, bool, bool, tuple[str, ...]]] = [
    ("threat_against_individual", False, True, (
        "i am going to smash your face in when i find you", "you are dead the moment you walk out that door",
        "i will cut your throat while you sleep", "watch your back, i will hurt your kids")),
    ("incitement_against_individual", False, True, (
        "someone go to his house and beat him senseless", "find that judge and make him bleed")),
    ("reclaimed_terms", False, False, (
        "we queers are hosting a picnic in the park", "us fat girls are hitting the beach this weekend")),
    ("untargeted_profanity", False, False, (
        "fucking hell, the kettle broke again", "oh crap, i missed the last train home",
        "shit, this spreadsheet crashed again")),
    ("positive_profanity", False, False, ("that gig was fucking amazing", "hell yes, we won the final")),
    ("insult_at_individual_no_threat", False, False, (
        "you are a clueless moron and your essay is rubbish", "my roommate is a selfish slob")),
    ("fiction_with_violence", False, False, (
        "the wolf tore into the sheep and the shepherd wept by the fire",
        "\"i will have your head for this,\" the king roared at the traitor in the tale",
        "the soldiers fell one by one as the battle raged across the valley",
        "she buried the knife in the vampire's heart and the castle crumbled")),
    # A character's threat in a story's quoted, speech-tagged dialogue: a story, not a threat to the reader.
    ("fiction_with_violence", False, False, (
        "\u201cI will kill you for this, you miserable wretch,\u201d cried the old sailor, and he reached for his "
        "cutlass.",
        "\u201cTouch the girl again and I'll break every bone in your body,\u201d said Tom quietly.",
        "The innkeeper shook his fist. \u201cYou'll hang before the week is out, mark my words!\u201d he shouted "
        "after the stranger.",
        "\"Come one step nearer and I shoot you dead,\" she whispered, and the lantern trembled in her hand.",
        "\u201cWe are going to burn your farm to the ground,\u201d growled the leader of the band, while the "
        "others laughed.",
        "\u201cI'll cut your heart out, I swear it,\u201d the pirate hissed. Then he was gone into the fog.",
        "\u201cIf you tell the master, I'll drown you in the millpond,\u201d said the elder brother.",
        "\"Stab him, stab him now!\" yelled the boy, but the fencing master only smiled and lowered his foil.",
        "\u201cGo and strangle the old fool in his bed,\u201d the witch muttered to her servant in the play.",
        "\u201cI am going to shoot you like a dog,\u201d replied the sheriff, and the whole saloon fell silent.")),
    ("violence_against_non_humans", False, False, (
        "we have to kill the weeds before they choke the roses", "shoot the photo again with better light",
        "the exterminator gassed the wasps' nest in the attic")),
    ("self_harm_adjacent_idiom", False, False, (
        "i am going to kill it at the interview tomorrow", "these shoes are murdering my feet")),
    ("news_of_violence", False, False, (
        "a gunman shot two guards outside the bank, officials said",
        "the flood killed dozens of people in the valley last week")),
    ("history_and_education", False, False, (
        "the museum explains how the massacre happened and who ordered it",)),
]


def hard_cases(exclude_family: str | None = None) -> list[HardCase]:
    """All cases, each group template for every augmentation group; ``exclude_family`` drops one family."""
    groups = [forms[1] for forms in AUGMENTATION_GROUPS.values()]
    out = [HardCase(template.format(g=group), hate, threat, family)
           for family, hate, threat, templates in _GROUP_TEMPLATES if family != exclude_family
           for template in templates for group in groups]
    out += [HardCase(text, hate, threat, family)
            for family, hate, threat, texts in _OTHER if family != exclude_family for text in texts]
    return out
