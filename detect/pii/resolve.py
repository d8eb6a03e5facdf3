"""From raw recognizer results to one span per piece of PII, with the best type.

Presidio's own de-duplication only drops a result contained in another of the *same* type, so a phone number
comes back as PHONE_NUMBER and UK_NHS, and an address overlapping a NER location comes back twice. Here:

1. results under their entity's threshold, on allow-listed text, identifiers cut out of a longer token, or NER
   DATE_TIME that names no point in time ("2 months", "a few years": durations; "this morning": vague) are
   dropped;
2. the rest are ranked: pattern results before NER results (a street address beats the NER's "Baker Street"
   LOCATION, a passport number beats the NER's DATE for the same digits), then by score, then by type
   specificity (checksummed types first), then by length; each is accepted unless it overlaps an accepted span;
3. an overlapping address-like or date result widens an accepted one of the same type (two fragments of one
   address, or "June 3" and the NER's "the morning of June 3", become one span); any other overlapping
   result is discarded, except that the part of a NER name outside the winning spans is kept;
4. a place name directly followed by a 4-6 digit code becomes one ADDRESS span with it ("Lyon 69002").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from detect.pii.config import PIIConfig

# Higher = more specific: wins ties on score.
SPECIFICITY = {
    "CREDIT_CARD": 9, "IBAN_CODE": 9, "EMAIL_ADDRESS": 9, "IP_ADDRESS": 9, "CRYPTO": 9, "US_SSN": 8,
    "URL": 7, "DATE_OF_BIRTH": 7, "US_DRIVER_LICENSE": 7, "PASSPORT": 7, "US_ITIN": 7, "MEDICAL_LICENSE": 7,
    "PHONE_NUMBER": 6, "ADDRESS": 5, "POSTAL_CODE": 5, "UK_NHS": 4, "US_BANK_NUMBER": 3, "DATE_TIME": 3,
    "AGE": 6, "PERSON": 2, "LOCATION": 2, "ORGANIZATION": 1, "NRP": 1,
}


@dataclass(frozen=True)
class PIIEntity:
    """One piece of PII: ``text[start:end]`` (Python string offsets) has type ``type`` with confidence ``score``."""

    type: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, object]:
        return {"type": self.type, "start": self.start, "end": self.end, "score": round(self.score, 4)}


@dataclass(frozen=True)
class Candidate:
    """A raw recognizer result before resolution; ``from_ner`` marks the spaCy NER as its source."""

    type: str
    start: int
    end: int
    score: float
    from_ner: bool = False


# A DATE_TIME is reported when it names a point in time: a month or weekday name, a clock time, a year, or two
# number groups ("5/17/1968"). Durations and vague phrases ("2 months", "a few years", "recently") are not.
DATE_CUE = re.compile(
    r"\d{1,4}[/.:-]\d{1,2}|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
    r"|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*day\b|\b(?:1[89]|20)\d{2}(?:'?s)?\b|\d\s*[ap]\.?m\b",
    re.IGNORECASE)
DURATION = re.compile(r"^(?:(?:about|around|over|under|nearly|almost|some|several|a|an|the|few|many|last|next|"
                      r"past|\d+(?:st|nd|rd|th)?|first|second|third|one|two|three|four|five|six|seven|eight|"
                      r"nine|ten|half)[\s-]+)*"
                      r"(?:second|minute|hour|day|night|week|month|year|decade|century)s?"
                      r"(?:[\s-]+(?:old|ago|later|long|earlier))?$", re.IGNORECASE)


# Relative or vague time words the NER tags as DATE/TIME: they name no day a person could be found by.
VAGUE_TIME = re.compile(r"^(?:(?:the|this|that|last|next|every|each|later|earlier|early|late|same|one)\s+)*"
                        r"(?:now|today|tonight|tomorrow|yesterday|recently|currently|daily|weekly|monthly|yearly|"
                        r"annually|nightly|morning|afternoon|evening|night|day|week|weekend|month|year|season|"
                        r"time|moment|present|past|future|period|era|age|spring|summer|autumn|fall|winter)s?$",
                        re.IGNORECASE)


def date_like(value: str) -> bool:
    """A NER date/time worth reporting: anything but a duration ("2 months") or a vague relative time
    ("this morning"). Round three widened this from "has a month, weekday, year or digits" because the stricter
    filter dropped date forms the default engine reports (its recall on dates was higher than ours)."""
    stripped = value.strip()
    if DATE_CUE.search(stripped):
        return not DURATION.match(stripped)
    return not (DURATION.match(stripped) or VAGUE_TIME.match(stripped))


WIDENING_TYPES = frozenset({"ADDRESS", "POSTAL_CODE"})
# Types whose overlapping results of the same type merge into one span ("June 3" inside "the morning of June 3").
UNION_TYPES = WIDENING_TYPES | {"DATE_TIME"}


# Identifier types: a match that starts or ends inside a longer run of letters and digits is a piece of some
# other token (a licence-shaped prefix of an IBAN), not an identifier of its own.
WHOLE_TOKEN_TYPES = frozenset({"MEDICAL_LICENSE", "US_DRIVER_LICENSE", "PASSPORT", "US_BANK_NUMBER", "UK_NHS",
                               "US_ITIN", "US_SSN", "IBAN_CODE", "CREDIT_CARD", "CRYPTO"})


def _cuts_a_token(text: str, start: int, end: int) -> bool:
    return (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum())


def _keep(text: str, entity: Candidate, config: PIIConfig, allowed: frozenset[str]) -> bool:
    if entity.score < config.threshold_for(entity.type) or entity.start >= entity.end:
        return False
    if entity.type in WHOLE_TOKEN_TYPES and _cuts_a_token(text, entity.start, entity.end):
        return False
    value = text[entity.start:entity.end]
    if allowed and value.strip().lower() in allowed:
        return False
    return not (entity.type == "DATE_TIME" and entity.from_ner and not date_like(value))


# Characters a NER name never starts or ends with: quoting marks of e-mail replies, table rules, brackets.
_NAME_EDGE = frozenset(",;:<>|*\"`~^=+_#!?[]{}")
_LINE_NAME_TYPES = frozenset({"PERSON", "LOCATION", "ORGANIZATION", "NRP"})


def _trim(text: str, entity: Candidate) -> Candidate:
    """Drop surrounding whitespace and trailing sentence punctuation that recognizers sometimes include.

    NER names are also cut at a line break (the small model runs "Jane Roe" on into the next line's "Address"
    or "> quoted" text) and lose stray edge symbols: a name never spans two lines of a form or a letter.
    """
    start, end = entity.start, entity.end
    if entity.from_ner and entity.type in _LINE_NAME_TYPES:
        first_line = text.find("\n", start, end)
        if first_line != -1 and sum(ch.isalnum() for ch in text[start:first_line]) >= 2:
            end = first_line
        while start < end and (text[start].isspace() or text[start] in _NAME_EDGE):
            start += 1
        while end > start and (text[end - 1].isspace() or text[end - 1] in _NAME_EDGE):
            end -= 1
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:"):
        end -= 1
    if (start, end) == (entity.start, entity.end):
        return entity
    return Candidate(entity.type, start, end, entity.score, entity.from_ner)


def resolve(text: str, candidates: Iterable[Candidate], config: PIIConfig) -> list[PIIEntity]:
    """Non-overlapping entities sorted by start (see module docstring)."""
    allowed = frozenset(term.strip().lower() for term in config.allow_list if term.strip())
    kept = [_trim(text, c) for c in candidates if _keep(text, c, config, allowed)]
    kept = [c for c in kept if c.start < c.end]
    kept.sort(key=lambda c: (c.from_ner, -c.score, -SPECIFICITY.get(c.type, 5), -(c.end - c.start), c.start))
    accepted: list[PIIEntity] = []
    for candidate in kept:
        overlapping = [i for i, a in enumerate(accepted) if candidate.start < a.end and a.start < candidate.end]
        if not overlapping:
            accepted.append(PIIEntity(candidate.type, candidate.start, candidate.end, candidate.score))
            continue
        if (len(overlapping) == 1 and candidate.type == "POSTAL_CODE"
                and accepted[overlapping[0]].type == "ADDRESS"):
            # A postcode that runs past the end of an address block belongs to it ("London NW1 6XE").
            _widen(accepted, overlapping[0], candidate)
            continue
        if candidate.type in WIDENING_TYPES and all(accepted[i].type != candidate.type for i in overlapping):
            clipped = _largest_gap(text, candidate, [accepted[i] for i in overlapping])
            if clipped is not None:
                accepted.append(clipped)
            continue
        if (len(overlapping) == 1 and candidate.type in UNION_TYPES
                and accepted[overlapping[0]].type == candidate.type):
            _widen(accepted, overlapping[0], candidate)
            continue
        if candidate.from_ner and candidate.type in NAME_TYPES:
            remainder = _uncovered_words(text, candidate, [accepted[i] for i in overlapping])
            if remainder is not None:
                accepted.append(remainder)
    return sorted(_with_postcodes(text, accepted), key=lambda e: (e.start, e.end))


def _widen(accepted: list[PIIEntity], index: int, candidate: Candidate) -> None:
    """Stretch ``accepted[index]`` over ``candidate`` (keeping its type and score), unless the union would
    overlap another accepted entity: then the candidate is simply dropped."""
    current = accepted[index]
    start, end = min(current.start, candidate.start), max(current.end, candidate.end)
    if not any(start < a.end and a.start < end for i, a in enumerate(accepted) if i != index):
        accepted[index] = PIIEntity(current.type, start, end, current.score)


# A place name followed by a 4-6 digit code ("Lyon 69002", "Texas 75001"): the last line of a postal address in
# most European and American formats, so the two are one ADDRESS span.
_CODE_AFTER_PLACE = re.compile(r"[ \t]*,?[ \t]*\d{4,6}(?:-\d{3,4})?(?![\w.,-]?\d)")


def _with_postcodes(text: str, accepted: list[PIIEntity]) -> list[PIIEntity]:
    starts = {e.start for e in accepted}
    out = []
    for entity in accepted:
        match = _CODE_AFTER_PLACE.match(text, entity.end) if entity.type == "LOCATION" else None
        if match and not any(entity.end <= s < match.end() for s in starts):
            entity = PIIEntity("ADDRESS", entity.start, match.end(), entity.score)
        out.append(entity)
    return out


# NER / gazetteer names whose part outside a winning pattern span is kept ("Bank of Springfield" as an
# organisation pattern over "Bank of" would otherwise drop the NER's place): the default engine keeps both.
NAME_TYPES = frozenset({"LOCATION", "PERSON", "ORGANIZATION"})


def _uncovered_words(text: str, candidate: Candidate, blockers: list[PIIEntity]) -> PIIEntity | None:
    """The longest uncovered part of a name when it is whole words and at least half of the name."""
    gap = _largest_gap(text, candidate, blockers)
    if gap is None:
        return None
    whole = (gap.start == 0 or not text[gap.start - 1].isalnum()) and (gap.end == len(text)
                                                                       or not text[gap.end].isalnum())
    if not whole or 2 * (gap.end - gap.start) < candidate.end - candidate.start:
        return None
    return gap


def _largest_gap(text: str, candidate: Candidate, blockers: list[PIIEntity]) -> PIIEntity | None:
    """The longest part of an address block not covered by other entities (a phone line inside the block)."""
    edges = [candidate.start]
    for blocker in sorted(blockers, key=lambda b: b.start):
        edges.extend((blocker.start, blocker.end))
    edges.append(candidate.end)
    gaps = [(max(a, candidate.start), min(b, candidate.end)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    best = max(gaps, key=lambda g: g[1] - g[0])
    trimmed = _trim(text, Candidate(candidate.type, best[0], best[1], candidate.score))
    if sum(not ch.isspace() for ch in text[trimmed.start:trimmed.end]) < 3:
        return None
    return PIIEntity(trimmed.type, trimmed.start, trimmed.end, trimmed.score)


def shift(entities: Sequence[PIIEntity], offset: int) -> list[PIIEntity]:
    return [PIIEntity(e.type, e.start + offset, e.end + offset, e.score) for e in entities]
