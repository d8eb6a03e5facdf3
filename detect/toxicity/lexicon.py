"""Source-independent cue features: abuse lexicon classes, group generalisations, negation and addressee.

Why: the n-gram features learn *which words a source uses* ("hoes" in tweets, "whites" in forum posts), and a
model trained on some sources then misses another source's vocabulary (the leave-one-source-out table is the
evidence). A handful of word classes written by hand (profanity, insults, dehumanising nouns, violence,
slurs) give the classifier a few shared columns whose weight is learnt from every source at once, so a word
seen only in one source still counts in the others through its class. Three structural cues matter for
hate and its contrasts:

* a generalisation about a group ("all X should", "X are", "those X"), matched by *shape*, never by a group
  name, so it works for groups no list names;
* negation right before a cue ("are not animals", "i do not hate"), which turns the cue into ``neg_*``;
* a second-person addressee next to an insult ("you idiot"), which is abuse of a person.

The classes are emitted as extra columns (``LexiconFeatures``), counted per text, next to the n-grams.
Words are matched on the normalised text (lowercase ASCII, leetspeak and spacing undone), so "1d10t" counts.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CLASSES: dict[str, frozenset[str]] = {
    "profanity": _words(
        "fuck fucking fucked fucker fuckers fucks motherfucker motherfuckers shit shitty shits bullshit crap "
        "damn dammit ass asses asshole assholes arse arsehole bitch bitches bitchy bastard bastards dick dicks "
        "dickhead cunt cunts pussy pussies piss pissed cock cocks whore whores slut sluts hoe hoes twat prick "
        "pricks wtf stfu bollocks douche douchebag"),
    "insult": _words(
        "idiot idiots idiotic stupid stupidity moron morons moronic dumb dumbass fool fools foolish loser losers "
        "pathetic worthless useless ignorant imbecile imbeciles clown clowns trash garbage scum scumbag "
        "scumbags disgusting ugly liar liars hypocrite hypocrites coward cowards cowardly jerk jerks creep "
        "creeps freak freaks degenerate degenerates dirty filthy incompetent lunatic lunatics vile nasty "
        "retard retards retarded inferior backwards primitive thugs thug criminals lazy ugly"),
    "dehumanising": _words(
        "vermin animals animal rats rat parasite parasites cockroach cockroaches roaches apes ape monkeys monkey "
        "beasts beast savages savage subhuman subhumans plague disease diseases cancer infestation infest "
        "invaders invasion mongrels swine leeches leech filth breed breeding pests pest insects "
        "creatures"),
    "violence": _words(
        "kill killing kills murder murdered murdering shoot shooting shot hang hanging hanged lynch lynching "
        "burn burned burning exterminate exterminated extermination slaughter slaughtered beat beaten beating "
        "hurt die dies dying destroy destroyed eliminate eliminated deport deported deportation genocide stab "
        "stabbed rape raped bomb gas gassed wipe eradicate eradicated purge cleanse cleansing"),
    "hostility": _words("hate hates hated hating despise despises despised loathe loathes detest detests"),
    "slur": _words(
        "nigger niggers nigga niggas faggot faggots fag fags dyke dykes kike kikes spic spics chink chinks "
        "wetback wetbacks tranny trannies raghead ragheads towelhead gook gooks coon coons beaner beaners "
        "paki pakis negro negroes"),
}
_NEGATIONS = _words("not no never dont doesnt didnt isnt arent wasnt werent wont cant cannot nobody "
                        "nothing neither nor without stop")
_ADDRESSEE = _words("you your youre ur u yourself ya")
# A generalisation about a group, by shape only: "all X (are|should...)", "those/these X", "X are <cue>".
_GENERALISATION = re.compile(
    r"\b(?:all|those|these|every|most|such)\s+(?:[a-z]+\s+){0,2}?(?:are|should|must|deserve|need|will|always)\b"
    r"|^(?!(?:you|we|i|they|it|he|she|there|this|that)\b)(?:[a-z]+\s+){1,2}(?:are|should|must|deserve)\b"
    r"|\b(?:these|those)\s+[a-z]+s\b")
# word -> its classes in ``_CLASSES`` order: one dict look-up per word instead of one set test per class (the
# scan path runs this on every window; same counts as testing each class in turn)
_WORD_CLASSES: dict[str, tuple[str, ...]] = {
    word: tuple(name for name, members in _CLASSES.items() if word in members)
    for word in frozenset().union(*_CLASSES.values())}
NEGATION_WINDOW = 3  # a cue within this many words after a negation counts as negated
ADDRESSEE_WINDOW = 3
CUE_CLASSES = tuple(_CLASSES)
FEATURE_NAMES = (CUE_CLASSES + tuple(f"neg_{name}" for name in CUE_CLASSES)
                 + ("you_insult", "generalisation", "generalisation_cue", "generalisation_violence"))
_INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
LEXICON_WEIGHT = 1.0  # scale of the cue columns next to the tf-idf n-grams


def lexicon_words(*classes: str) -> frozenset[str]:
    """The words of the named cue classes (other modules reuse the lists instead of copying them)."""
    return frozenset().union(*(_CLASSES[name] for name in classes))


def cue_counts(text: str) -> dict[str, int]:
    """Counts of each cue feature in a normalised text."""
    words = text.split(" ") if text else []
    counts: dict[str, int] = {}
    last_negation = -100
    last_addressee = -100
    for position, word in enumerate(words):
        if word in _NEGATIONS:
            last_negation = position
            continue
        if word in _ADDRESSEE:
            last_addressee = position
        for name in _WORD_CLASSES.get(word, ()):
            key = f"neg_{name}" if position - last_negation <= NEGATION_WINDOW else name
            counts[key] = counts.get(key, 0) + 1
            if name in ("insult", "profanity", "slur") and position - last_addressee <= ADDRESSEE_WINDOW:
                counts["you_insult"] = counts.get("you_insult", 0) + 1
    if _GENERALISATION.search(text):
        counts["generalisation"] = 1
        if any(counts.get(name) for name in ("insult", "dehumanising", "slur", "profanity")):
            counts["generalisation_cue"] = 1
        if counts.get("violence"):
            counts["generalisation_violence"] = 1
    return counts


class LexiconFeatures(BaseEstimator, TransformerMixin):
    """Texts -> sparse matrix of log(1 + count) per cue feature (stateless: ``fit`` learns nothing)."""

    def __init__(self, weight: float = LEXICON_WEIGHT) -> None:
        self.weight = weight

    def fit(self, texts: Any, y: Any = None) -> LexiconFeatures:
        return self

    def transform(self, texts: Any) -> sparse.csr_matrix:
        rows, cols, values = [], [], []
        for row, text in enumerate(texts):
            for name, count in cue_counts(text).items():
                rows.append(row)
                cols.append(_INDEX[name])
                values.append(self.weight * float(np.log1p(count)))
        return sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), len(FEATURE_NAMES)))
