"""Narrative context of a window: is it a character's quoted speech inside a story?

Why: the generation screen blocks threats, and novels are full of characters threatening each other in
quotation marks ("I'll have your head," the king roared). A story is not a threat to its reader. The model
only sees normalised text (no punctuation), so the quotation marks and speech tags must be read from the
*raw* text before normalisation and handed to the blocking stage as features of each window:

* ``quoted_share``: the share of the window's words that sit between quotation marks in the raw text;
* ``speech_tagged``: the raw text carries quotation marks *and* a narrative speech tag ("said", "cried",
  "replied", ...), the mark of reported dialogue in prose rather than of a quoted slogan.

Windows are cut from the normalised words; a window's raw span is found proportionally (normalisation keeps
almost every word), which is exact enough for a share.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

CONTEXT_FEATURES = ("quoted_share", "speech_tagged")
_DOUBLE = "\"\u201c\u201d\u00ab\u00bb\u201e"
_OPENERS = "\u201c\u00ab\u201e"
_CLOSERS = "\u201d\u00bb"
_QUOTE_CHARS = re.compile(f"[{_DOUBLE}]")
_SPEECH_TAGS = frozenset(re.findall(
    r"\S+", "said says say cried cries asked asks replied replies answered answers exclaimed shouted whispered "
    "muttered roared growled snarled yelled screamed hissed called continued added returned retorted rejoined murmured "
    "sobbed laughed grumbled thundered bellowed demanded declared observed remarked"))
_WORD = re.compile(r"[A-Za-z']+")


def quoted_flags(raw: str) -> list[bool]:
    """Per whitespace token of ``raw``: is it inside double quotation marks? Curly quotes open and close;
    straight quotes toggle. A token carrying an opening mark counts as inside, one carrying only the closing
    mark counts as inside too (the mark ends the speech after the word)."""
    inside = False
    flags = []
    for token in raw.split():
        starts_inside = inside
        for char in token:
            if char in _OPENERS:
                inside = True
            elif char in _CLOSERS:
                inside = False
            elif char == '"':
                inside = not inside
        flags.append(starts_inside or inside or bool(_QUOTE_CHARS.search(token)))
    return flags


def is_speech_tagged(raw: str) -> bool:
    """Quotation marks plus a narrative speech tag anywhere in the text."""
    if not _QUOTE_CHARS.search(raw):
        return False
    return any(word.lower() in _SPEECH_TAGS for word in _WORD.findall(raw))


def window_context(raw: str, normalized_words: int, starts: Sequence[int], width: int) -> list[tuple[float, float]]:
    """(``quoted_share``, ``speech_tagged``) for each window starting at ``starts`` (normalised word index)."""
    flags = quoted_flags(raw)
    tagged = float(is_speech_tagged(raw))
    if not flags or normalized_words <= 0:
        return [(0.0, tagged) for _ in starts]
    scale = len(flags) / normalized_words
    out = []
    for start in starts:
        low = min(int(start * scale), len(flags) - 1)
        high = max(min(int(round((start + width) * scale)), len(flags)), low + 1)
        span = flags[low:high]
        out.append((sum(span) / len(span), tagged))
    return out


def text_context(raws: Sequence[str]) -> list[tuple[float, float]]:
    """One context per whole text (training rows and hard cases are scored as one window each)."""
    return [window_context(raw, max(len(raw.split()), 1), [0], max(len(raw.split()), 1))[0] for raw in raws]
