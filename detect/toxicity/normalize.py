"""Text normalisation before toxicity features: undo obfuscation, drop dataset artefacts.

Why: a bag-of-n-grams model only sees what survives normalisation. Two kinds of noise would hurt it:

* **Obfuscation** that leaves a word readable to people but not to n-grams: look-alike and invisible
  characters (folded by ``watermark.normalize``), accents (stripped), leetspeak (``sh1t``, ``@ss``), repeated
  letters (``fuuuuck``), and spacing tricks (``f u c k``, ``f.u.c.k``).
* **Source artefacts** that say where a text came from, not whether it is toxic: Twitter's ``RT @user:``,
  mentions, URLs, hashtags, HTML entities, emoji. A model that keys on them learns the data set, not the
  language, and fails on every other source (the cross-source table measures exactly this).

Identity terms ("gay", "Muslim", "Black", "women", ...) are *kept*: hate is directed at groups, and a model
that cannot see the target cannot tell "kill all X" from "X pray five times a day". Their group-specific
weight is removed at training time instead (counterfactual copies, ``augment``).

The result is lowercase ASCII words and digits separated by single spaces, without punctuation.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

from watermark.normalize import normalize_text

# Bounded repeats only: an unbounded ``\S+`` before a literal backtracks quadratically on a 200 kB "word".
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]{1,63}(?:\.[\w-]{1,63}){0,4}\.(?:com|org|net|ly|co|io)\b(?:/\S*)?",
                  re.IGNORECASE)
_RETWEET = re.compile(r"(?<!\w)rt\b:?", re.IGNORECASE)
_MENTION = re.compile(r"@\w{3,}:?")  # "@ss" is leetspeak, not a user
_HASHTAG = re.compile(r"#(\w+)")
_HTML_ENTITY_NUM = re.compile(r"&#\d+;?")
# Leetspeak: only inside a token that also has letters, so "2 dogs" and "5%" stay numbers.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
                       "!": "i", "|": "l", "+": "t"})
# A whole token with a letter next to a leet character ("sh1t", "@ss"); anchored at token starts so a long
# unbroken run costs linear time.
_LEET_TOKEN = re.compile(r"(?<!\S)\S*?(?:[a-z][0-9@$!|+]|[0-9@$!|+][a-z])\S*")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_REPEATS = re.compile(r"(.)\1{2,}")  # 3+ -> 1: "fuuuck", "sooo" (English has no triples)
# Three or more single letters separated by one space or one of . - _ * : "f u c k", "f.u.c.k", "f-u-c-k".
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){2,}[a-z]\b")
_MASK_INSIDE = re.compile(r"(?<=[a-z])[*#%.\-_]+(?=[a-z])")
_APOSTROPHE = re.compile(r"['\u2019](?=[a-z])")
_NON_WORD = re.compile(r"[^a-z0-9 ]+")  # punctuation runs ("!!!!" opens many tweets) are source style
_SPACES = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@dataclass(frozen=True)
class Normalized:
    """The feature text plus what the scorer should tell the caller about the input."""

    text: str
    letters: int  # letters in the original (any script)
    latin_share: float  # share of those letters that are ASCII once accents are stripped (before homoglyph folding)


def _strip_accents(text: str) -> str:
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def _join_spaced(match: re.Match[str]) -> str:
    return re.sub(r"[ .\-_*]", "", match.group(0))


def _deleet(match: re.Match[str]) -> str:
    token = match.group(0)
    core = token.rstrip("!?.,")  # a trailing "!" is punctuation, not an "i"
    return core.translate(_LEET) + token[len(core):]


def normalize_toxicity(text: str) -> Normalized:
    """Feature text for the toxicity model (see the module docstring for each step and why)."""
    unescaped = html.unescape(text) if "&" in text else text
    letters = len(_LETTER.findall(unescaped))
    if unescaped.isascii():  # the common case: no folding, accents or script check needed (C-speed checks)
        ascii_letters = letters
        folded = unescaped.lower()
    else:
        ascii_letters = len(_ASCII_LETTER.findall(_strip_accents(unescaped)))
        folded = _strip_accents(normalize_text(unescaped)).lower()
    # Each substitution runs only when the character it needs is there (a substring test is far cheaper
    # than a regex scan, and the scan path normalises every text): the same output, less time.
    text = _HTML_ENTITY_NUM.sub(" ", folded) if "&#" in folded else folded
    text = _URL.sub(" ", text) if "." in text or "://" in text else text
    text = _RETWEET.sub(" ", text) if "rt" in text or not text.isascii() else text
    text = _MENTION.sub(" ", text) if "@" in text else text
    text = _HASHTAG.sub(r"\1", text) if "#" in text else text
    text = _LEET_TOKEN.sub(_deleet, text)
    text = _REPEATS.sub(r"\1", text)
    text = _SPACED.sub(_join_spaced, text)
    text = _MASK_INSIDE.sub("", text)
    text = _APOSTROPHE.sub("", text) if "'" in text or "\u2019" in text else text
    text = _NON_WORD.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    share = ascii_letters / letters if letters else 0.0
    return Normalized(text=text, letters=letters, latin_share=min(share, 1.0))
