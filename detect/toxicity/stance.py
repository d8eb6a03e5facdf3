"""Stance toward a group, read from word order alone: cheap structural columns for the FIRST stage.

Why: "[group] are vermin", "calling [group] vermin is vile", "i do not hate [group]" and "i love [group]"
share most of their words, so n-grams alone score them alike. What separates them is *who is said to be
what*, and whether the statement is negated or framed as someone else's. The spaCy parse says that best,
but it costs several times the rest of scoring and the scan path must stay as fast as it is; these columns
read the same relations from the normalised word sequence in one pass (a few set look-ups per word):

* ``stance_group``: the text names a group (a listed identity word, or "<word> people/folks");
* ``stance_group_negative``: a group followed within ``SPAN`` words by a hostile or degrading word
  ("[group] are filthy ...", "[group] should be deported"), with no negation or praise between them;
* ``stance_hostile_group``: a hostile verb shortly before a group ("i hate [group]", "deport the [group]");
* ``stance_negated``: either of those two with a negation before the hostile word ("[group] are not ...",
  "i do not hate [group]");
* ``stance_countered``: either of them after a counter-speech frame ("calling [group] ...", "stop saying
  ...", "it is racist to ...");
* ``stance_positive``: praise of a group ("i love [group]", "[group] are wonderful"), not negated;
* ``stance_negated_positive``: negated praise ("[group] are not human", "[group] deserve no respect").

Each column is a count (log1p), learnt from every source and from the first-stage hand-written cases at
once; the word lists are generic and written here, not taken from any data file. They were written after
the third suite (``hate_suite``) was frozen, by its author: words remembered from the suite's hateful and
positive templates (greedy, dishonest, menace, crooks, wonderful, admire) were then left out on purpose.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin

from detect.toxicity.augment import AUGMENTATION_GROUPS
from detect.toxicity.lexicon import lexicon_words


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_GROUP_WORDS = (
    frozenset(form for forms in AUGMENTATION_GROUPS.values() for form in forms if " " not in form)
    | _words("jew muslim islam islamic hispanic hispanics latina latinas homosexual homosexuals queers "
             "transgender woman females girls refugee refugees migrant migrants foreigners foreigner "
             "disabled handicapped cripples deaf blind autistic hindu hindus sikh sikhs buddhist buddhists "
             "roma gypsy gypsies catholic catholics chinese indian indians pakistani pakistanis natives "
             "lgbt lgbtq feminists immigrant negroes negro"))
_GROUP_HEADS = _words("people folks folk community communities men")
_NEGATIVE = lexicon_words("insult", "dehumanising", "slur", "violence", "profanity") | _words(
    "evil dangerous violent criminal criminals thieves thieving terrorists terrorist rapists "
    "barbaric barbarians sick disgrace shame threat burden dirty smelly stink stinks lazy "
    "inferior subhuman worthless useless gone dead banned removed deported locked")
_HOSTILE = lexicon_words("hostility", "violence") | _words(
    "deport ban remove expel fuck hates kick exterminate eradicate ban banish fear blame")
_POSITIVE = _words(
    "love loves loved adore respect respected support supports welcome welcomed "
    "celebrate celebrates proud thank thanks appreciate cherish value valued great amazing kind "
    "lovely beautiful brilliant friendly generous smart talented human humans equal equals deserve")
_NEGATIONS = _words("not no never dont doesnt didnt isnt arent wasnt werent wont cant cannot nobody "
                    "nothing neither nor without")
_COUNTER = _words("calling call called calls saying say says said claim claims claiming wrote write "
                  "stop racist sexist bigoted bigot bigots bigotry hateful ignorant cruel ashamed wrong "
                  "false untrue myth lies condemn condemned report reported")
SPAN = 5  # words after a group in which a degrading word counts as predicated of it
LEAD = 3  # words before a group in which a hostile verb or praise counts as aimed at it
FRAME = 6  # words before a group (or hostile verb) in which a counter-speech frame counts
STANCE_FEATURES = ("stance_group", "stance_group_negative", "stance_hostile_group", "stance_negated",
                   "stance_countered", "stance_positive", "stance_negated_positive")
_INDEX = {name: i for i, name in enumerate(STANCE_FEATURES)}


def _group_positions(words: list[str]) -> list[tuple[int, int]]:
    """(first, last) word index of each group mention."""
    spans = []
    for i, word in enumerate(words):
        if word in _GROUP_WORDS:
            spans.append((i, i))
        elif word in _GROUP_HEADS and i > 0 and words[i - 1] not in _NEGATIONS:
            if spans and spans[-1] == (i - 1, i - 1):  # "gay people": one mention, not two
                spans.pop()
            spans.append((i - 1, i))
    return spans


def stance_counts(text: str) -> dict[str, int]:
    """Counts of each stance column in a normalised text."""
    words = text.split(" ") if text else []
    counts: dict[str, int] = {}

    def add(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    for first, last in _group_positions(words):
        add("stance_group")
        before = words[max(0, first - FRAME):first]
        countered = any(word in _COUNTER for word in before)
        negated = False
        praised = False
        for word in words[last + 1:last + 1 + SPAN]:
            if word in _GROUP_WORDS:
                break
            if word in _NEGATIONS:
                negated = True
            elif word in _POSITIVE:
                add("stance_negated_positive" if negated else "stance_positive")
                praised = True
                break
            elif word in _NEGATIVE:
                add("stance_countered" if countered else "stance_negated" if negated else "stance_group_negative")
                break
        lead = words[max(0, first - LEAD):first]
        for offset, word in enumerate(lead):
            ahead = words[max(0, first - LEAD + offset - LEAD):first - LEAD + offset]
            if word in _HOSTILE:
                if any(w in _NEGATIONS for w in ahead + lead[:offset]):
                    add("stance_negated")
                elif countered:
                    add("stance_countered")
                else:
                    add("stance_hostile_group")
                break
            if word in _POSITIVE and not praised:
                negated_lead = any(w in _NEGATIONS for w in ahead + lead[:offset])
                add("stance_negated_positive" if negated_lead else "stance_positive")
                break
    return counts


class StanceFeatures(BaseEstimator, TransformerMixin):
    """Texts -> sparse matrix of log(1 + count) per stance column (stateless: ``fit`` learns nothing)."""

    def fit(self, texts: Any, y: Any = None) -> StanceFeatures:
        return self

    def transform(self, texts: Any) -> sparse.csr_matrix:
        rows, cols, values = [], [], []
        for row, text in enumerate(texts):
            for name, count in stance_counts(text).items():
                rows.append(row)
                cols.append(_INDEX[name])
                values.append(float(np.log1p(count)))
        return sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), len(STANCE_FEATURES)))


GROUP_TOKEN = "ggrp"
CONTEXT_HASH_BITS = 18


def group_context_terms(text: str) -> list[str]:
    """Word n-grams around each group mention, the group replaced by one placeholder ("ggrp are vile",
    "hate ggrp", "love ggrp"): what is said of a group, learnt once for every group (also for groups no list
    names, through "<word> people"). An analyzer for ``HashingVectorizer``; module-level so it pickles."""
    words = text.split(" ") if text else []
    terms: list[str] = []
    for first, last in _group_positions(words):
        left = words[max(0, first - 3):first]
        right = words[last + 1:last + 4]
        for size in range(1, len(left) + 1):
            terms.append(" ".join(left[-size:] + [GROUP_TOKEN]))
        for size in range(1, len(right) + 1):
            terms.append(" ".join([GROUP_TOKEN] + right[:size]))
        if left and right:
            terms.append(" ".join([left[-1], GROUP_TOKEN, right[0]]))
    return terms
