"""Text edits for the watermark attack bench: excerpts, substitution, synonym-like swaps, deletion, insertion,
copy-paste. Word level (what a person editing text does), seeded, no downloads.

The synonym-like table below is this project's own short list of everyday words and near-equivalents (written
for the bench, not taken from any data set): it models a light paraphrase that keeps meaning, where random
substitution models the worst case of the same edit budget. Random replacement words are drawn at run time from
a pool the caller supplies (held-out human text), so no data-file string lives in code.
"""

from __future__ import annotations

import numpy as np

SYNONYMS: dict[str, tuple[str, ...]] = {
    "big": ("large", "huge"), "small": ("little", "tiny"), "said": ("stated", "remarked"),
    "good": ("fine", "decent"), "bad": ("poor", "awful"), "fast": ("quick", "rapid"), "quick": ("fast", "swift"),
    "old": ("aged", "ancient"), "new": ("fresh", "recent"), "many": ("numerous", "several"),
    "few": ("several", "some"), "began": ("started", "commenced"), "begin": ("start", "commence"),
    "start": ("begin", "launch"), "end": ("finish", "close"), "ended": ("finished", "concluded"),
    "help": ("aid", "assist"), "helped": ("aided", "assisted"), "use": ("employ", "utilise"),
    "used": ("employed", "utilised"), "make": ("create", "produce"), "made": ("created", "produced"),
    "get": ("obtain", "receive"), "got": ("obtained", "received"), "show": ("display", "reveal"),
    "showed": ("displayed", "revealed"), "think": ("believe", "suppose"), "thought": ("believed", "supposed"),
    "see": ("notice", "observe"), "saw": ("noticed", "observed"), "look": ("glance", "gaze"),
    "looked": ("glanced", "gazed"), "went": ("walked", "travelled"), "go": ("move", "travel"),
    "came": ("arrived", "appeared"), "come": ("arrive", "appear"), "took": ("grabbed", "seized"),
    "take": ("grab", "seize"), "gave": ("handed", "offered"), "give": ("hand", "offer"),
    "very": ("really", "extremely"), "also": ("too", "moreover"), "often": ("frequently", "regularly"),
    "however": ("but", "yet"), "but": ("yet", "however"), "because": ("since", "as"), "about": ("around", "roughly"),
    "almost": ("nearly", "practically"), "house": ("home", "dwelling"), "city": ("town", "metropolis"),
    "man": ("fellow", "gentleman"), "woman": ("lady", "female"), "people": ("persons", "folk"),
    "children": ("kids", "youngsters"), "child": ("kid", "youngster"), "friend": ("companion", "pal"),
    "road": ("street", "route"), "way": ("path", "manner"), "time": ("moment", "period"),
    "day": ("date", "daytime"), "world": ("globe", "earth"), "part": ("portion", "piece"),
    "place": ("spot", "location"), "work": ("labour", "job"), "worked": ("laboured", "toiled"),
    "happy": ("glad", "cheerful"), "sad": ("unhappy", "gloomy"), "large": ("big", "vast"),
    "little": ("small", "slight"), "great": ("grand", "immense"), "important": ("significant", "crucial"),
    "different": ("distinct", "various"), "early": ("premature", "initial"), "late": ("tardy", "delayed"),
    "long": ("lengthy", "extended"), "short": ("brief", "concise"), "high": ("tall", "lofty"),
    "strong": ("powerful", "sturdy"), "hard": ("difficult", "tough"), "easy": ("simple", "effortless"),
    "first": ("initial", "earliest"), "last": ("final", "closing"), "known": ("recognised", "famed"),
    "found": ("discovered", "located"), "find": ("discover", "locate"), "told": ("informed", "instructed"),
    "asked": ("enquired", "questioned"), "answered": ("replied", "responded"), "called": ("named", "termed"),
    "around": ("about", "approximately"), "several": ("some", "various"), "whole": ("entire", "complete"),
    "quite": ("rather", "fairly"), "nearly": ("almost", "about"), "suddenly": ("abruptly", "unexpectedly"),
    "the": ("a", "this"), "a": ("the", "one"), "and": ("plus", "&"), "is": ("was", "remains"),
    "was": ("is", "had been"), "were": ("are", "had been"), "of": ("from", "about"), "in": ("within", "inside"),
    "on": ("upon", "onto"), "to": ("towards", "unto"), "with": ("alongside", "using"), "for": ("toward", "to"),
    "he": ("the man", "this person"), "she": ("the woman", "this person"), "they": ("these people", "those"),
    "it": ("this", "that"), "his": ("the", "their"), "her": ("the", "their"), "from": ("out of", "off"),
    "at": ("by", "near"), "by": ("via", "through"), "as": ("like", "since"), "that": ("which", "this"),
}


def words_of(text: str) -> list[str]:
    return text.split()


def join(words: list[str]) -> str:
    return " ".join(words)


def excerpt(text: str, n_words: int) -> str:
    """The first ``n_words`` words (the issue's excerpt: a reader quoting the start of a text)."""
    return join(words_of(text)[:n_words])


def _chosen(count: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Exactly round(rate * count) distinct word positions (a fixed edit budget, not a coin per word)."""
    k = int(round(rate * count))
    return rng.choice(count, size=min(k, count), replace=False) if count and k else np.zeros(0, dtype=np.int64)


def substitute(text: str, rate: float, rng: np.random.Generator, pool: list[str]) -> str:
    """Replace ``rate`` of the words with random words from ``pool``."""
    words = words_of(text)
    for i in _chosen(len(words), rate, rng):
        words[i] = pool[int(rng.integers(len(pool)))]
    return join(words)


def _case_like(original: str, replacement: str) -> str:
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


def synonym_swap(text: str, rate: float, rng: np.random.Generator) -> str:
    """Replace up to ``rate`` of the words with a near-synonym from ``SYNONYMS`` (punctuation kept); words with
    no entry are left alone, so the realised rate can be lower (the bench reports it)."""
    words = words_of(text)
    eligible = [i for i, w in enumerate(words) if w.strip(".,;:!?\"'()").lower() in SYNONYMS]
    budget = int(round(rate * len(words)))
    picks = rng.permutation(eligible)[:budget] if eligible else []
    for i in picks:
        word = words[i]
        core = word.strip(".,;:!?\"'()")
        lead = word[: word.find(core)] if core else ""
        tail = word[len(lead) + len(core):]
        options = SYNONYMS[core.lower()]
        words[i] = lead + _case_like(core, options[int(rng.integers(len(options)))]) + tail
    return join(words)


def delete(text: str, rate: float, rng: np.random.Generator) -> str:
    words = words_of(text)
    dropped = set(_chosen(len(words), rate, rng).tolist())
    return join([w for i, w in enumerate(words) if i not in dropped])


def insert(text: str, rate: float, rng: np.random.Generator, pool: list[str]) -> str:
    """Insert ``rate`` x (word count) random pool words, each after a random word."""
    words = words_of(text)
    after = set(_chosen(len(words), rate, rng).tolist())
    out: list[str] = []
    for i, word in enumerate(words):
        out.append(word)
        if i in after:
            out.append(pool[int(rng.integers(len(pool)))])
    return join(out)


def paste(background: str, span: str, rng: np.random.Generator) -> str:
    """``span`` pasted between two words of ``background`` at a random place."""
    words = words_of(background)
    at = int(rng.integers(0, len(words) + 1))
    return join(words[:at] + words_of(span) + words[at:])
