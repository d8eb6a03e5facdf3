"""Counterfactual identity augmentation: keep identity terms, remove their group-specific weight.

Why: hate speech is directed at groups, so a model that cannot see "muslims" cannot tell "kill all muslims"
from "muslims pray five times a day" (the old normaliser deleted identity terms and made group-directed hate
invisible). Keeping the terms brings back the opposite risk: the training sources mention some groups
mostly in hate (forum hate speech), so a plain model learns "mentions Muslims" as a toxicity cue. The fix
here: every training text that names a listed group also appears with that group swapped for other listed
groups, with the same label. A group term then carries the same evidence whichever group it is, and the
model has to learn the *context* ("are vermin", "should be deported") instead of the group.

``AUGMENTATION_GROUPS`` is deliberately not exhaustive: groups left out of it (``HELD_OUT_GROUPS`` in
``evaluation``, e.g. Chinese, Sikh, Native American, disabled people) are how the bench checks that the bias
fix generalises to groups no list names. Texts are normalised (lowercase ASCII words, see ``normalize``), so
terms are matched as whole lowercase words.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

# group -> (adjective / singular form, plural noun form). Both slots exist for every group so a swap keeps
# the grammar roughly right ("muslim people" -> "jewish people", "muslims" -> "jews").
AUGMENTATION_GROUPS: dict[str, tuple[str, str]] = {
    "muslim": ("muslim", "muslims"),
    "jewish": ("jewish", "jews"),
    "christian": ("christian", "christians"),
    "black": ("black", "blacks"),
    "white": ("white", "whites"),
    "asian": ("asian", "asians"),
    "african": ("african", "africans"),
    "arab": ("arab", "arabs"),
    "mexican": ("mexican", "mexicans"),
    "latino": ("latino", "latinos"),
    "immigrant": ("immigrant", "immigrants"),
    "gay": ("gay", "gays"),
    "lesbian": ("lesbian", "lesbians"),
    "bisexual": ("bisexual", "bisexuals"),
    "trans": ("transgender", "trans people"),
    "women": ("female", "women"),
}
# Other surface forms of listed groups -> (group, slot): 0 adjective/singular, 1 plural.
_VARIANTS: dict[str, tuple[str, int]] = {
    "jew": ("jewish", 0), "islamic": ("muslim", 0), "islam": ("muslim", 0), "hispanic": ("latino", 0),
    "hispanics": ("latino", 1), "latina": ("latino", 0), "latinas": ("latino", 1), "homosexual": ("gay", 0),
    "homosexuals": ("gay", 1), "queer": ("gay", 0), "transgender": ("trans", 0), "woman": ("women", 0),
    "females": ("women", 1), "girls": ("women", 1), "refugee": ("immigrant", 0), "refugees": ("immigrant", 1),
}
_TERM_SLOTS: dict[str, tuple[str, int]] = {
    **{form: (group, slot) for group, forms in AUGMENTATION_GROUPS.items() for slot, form in enumerate(forms)
       if " " not in form},
    **_VARIANTS,
}
_TERMS = re.compile(r"\b(?:trans people|" + "|".join(sorted(map(re.escape, _TERM_SLOTS), key=len, reverse=True))
                    + r")\b")
COPIES_PER_TEXT = 2  # each text naming a listed group gets this many swapped copies
# Optionally one more copy naming no group at all ("muslims are" -> "people are"), meant to let the context
# explain the label without any group word. Off: it *lowered* functional-suite contrast accuracy from 0.69 to
# 0.62 at the same LOSO AUROC (bench/toxicity_quality.py, 2,500 rows per source).
NEUTRAL_FORMS = ("local", "people")
NEUTRAL_COPY = False


def _slot_of(term: str) -> tuple[str, int]:
    return ("trans", 1) if term == "trans people" else _TERM_SLOTS[term]


def listed_groups_in(text: str) -> set[str]:
    """The listed groups a normalised text names."""
    return {_slot_of(match.group(0))[0] for match in _TERMS.finditer(text)}


def swap_groups(text: str, mapping: dict[str, str | None]) -> str:
    """``text`` with every listed-group term replaced by the same slot of ``mapping[group]`` (a group name, or
    None for the group-free ``NEUTRAL_FORMS``); groups missing from ``mapping`` stay."""
    def replace(match: re.Match[str]) -> str:
        group, slot = _slot_of(match.group(0))
        if group not in mapping:
            return match.group(0)
        target = mapping[group]
        return NEUTRAL_FORMS[slot] if target is None else AUGMENTATION_GROUPS[target][slot]

    return _TERMS.sub(replace, text)


def counterfactuals(text: str, rng: random.Random, copies: int = COPIES_PER_TEXT) -> list[str]:
    """Up to ``copies`` distinct versions of ``text`` with its groups swapped for other listed groups, plus
    (``NEUTRAL_COPY``) one naming no group."""
    present = sorted(listed_groups_in(text))
    if not present:
        return []
    names = sorted(AUGMENTATION_GROUPS)
    out: list[str] = []
    for _ in range(copies * 2):  # a few extra draws in case two draws give the same text
        mapping = {group: rng.choice([name for name in names if name != group]) for group in present}
        swapped = swap_groups(text, mapping)
        if swapped != text and swapped not in out:
            out.append(swapped)
        if len(out) == copies:
            break
    if NEUTRAL_COPY and copies:
        neutral = swap_groups(text, dict.fromkeys(present))
        if neutral not in out:
            out.append(neutral)
    return out


def augment(texts: Sequence[str], *columns: Sequence[object], seed: int = 0,
            copies: int = COPIES_PER_TEXT) -> tuple[list[str], list[list[object]], list[int]]:
    """Training rows plus their counterfactual copies. ``columns`` (labels, category sets, ...) are repeated
    for each copy; also returns, per output row, the index of the original row it came from."""
    rng = random.Random(seed)
    out_texts: list[str] = []
    out_columns: list[list[object]] = [[] for _ in columns]
    origin: list[int] = []
    for index, text in enumerate(texts):
        for version in [text, *counterfactuals(text, rng, copies)]:
            out_texts.append(version)
            for target, column in zip(out_columns, columns, strict=True):
                target.append(column[index])
            origin.append(index)
    return out_texts, out_columns, origin
