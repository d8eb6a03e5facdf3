"""One small Presidio recognizer class for every pattern this package adds: regex rules plus context words.

Presidio's ``PatternRecognizer`` reports the whole match and relies on lemma-based context enhancement. Ours
can report one capture group (the name after "Mrs.", not the title), can *require* a context word (a bare
9-digit number is a driver's licence only after "licence"), validates candidates in code (Luhn, dates) and
skips documents cheaply when a pre-check character class is absent. It reports no Presidio context words, so
the engine-wide enhancer never boosts its results twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


@dataclass(frozen=True)
class Rule:
    """One pattern. ``group`` selects the reported part; ``validate`` rejects a candidate string."""

    pattern: re.Pattern[str]
    score: float
    group: int = 0
    validate: Callable[[str], bool] | None = None


def rule(regex: str, score: float, group: int = 0, validate: Callable[[str], bool] | None = None,
         flags: int = re.IGNORECASE) -> Rule:
    return Rule(re.compile(regex, flags), score, group, validate)


class RegexRecognizer(EntityRecognizer):
    """Regex rules for one entity type, with context words looked up in a character window around a match.

    ``context_score``: the score a match gets when a context word is near (never lowered by it).
    ``context_required``: drop matches with no context word. ``precheck``: a regex that must occur somewhere
    in the document for any rule to run (a cheap ``search`` saves most of the work on text without digits).
    """

    def __init__(self, name: str, entity: str, rules: Sequence[Rule], *, context: Sequence[str] = (),
                 context_score: float = 0.0, context_required: bool = False, window_before: int = 48,
                 window_after: int = 16, precheck: str | None = None, language: str = "en") -> None:
        self.rules = list(rules)
        self.context_words = frozenset(word.lower() for word in context if " " not in word)
        self.context_phrases = tuple(word.lower() for word in context if " " in word)
        self.context_score = context_score
        self.context_required = context_required
        self.window_before = window_before
        self.window_after = window_after
        self.precheck = re.compile(precheck) if precheck else None
        super().__init__(supported_entities=[entity], name=name, supported_language=language, context=[])

    def load(self) -> None:
        """Presidio calls this to prepare a recognizer; the rules are compiled at construction already."""

    def has_context(self, text: str, start: int, end: int) -> bool:
        if not self.context_words and not self.context_phrases:
            return False
        window = (text[max(0, start - self.window_before):start] + " "
                  + text[end:end + self.window_after]).lower()
        if any(word in self.context_words for word in _WORD.findall(window)):
            return True
        return any(phrase in window for phrase in self.context_phrases)

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
                ) -> list[RecognizerResult]:
        if self.precheck is not None and not self.precheck.search(text):
            return []
        entity = self.supported_entities[0]
        results: list[RecognizerResult] = []
        seen: set[tuple[int, int]] = set()
        for current in self.rules:
            for match in current.pattern.finditer(text):
                start, end = match.span(current.group)
                if start >= end or (start, end) in seen:
                    continue
                if current.validate is not None and not current.validate(text[start:end]):
                    continue
                score = current.score
                if self.context_words or self.context_phrases:
                    if self.has_context(text, start, end):
                        score = max(score, self.context_score)
                    elif self.context_required:
                        continue
                seen.add((start, end))
                results.append(RecognizerResult(entity, start, end, score, recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
        return results
