"""No string from the PII evaluation data appears in the PII code, benches, docs or tests.

Why: rules or tests that quote the evaluation documents measure memory, not generalisation (issue 30 found a
validation document copied into a test and validation-only words in the rules). Two checks, on the files of the
PII area:

1. no gold value of the data (a span of 5+ characters with two words or a digit: names, streets, numbers) occurs
   as a whole phrase;
2. no pair of adjacent capitalised or digit-bearing words (>= 3 characters each, "Quillon Bend", "Box 7731")
   inside a string literal also occurs in a data document: such pairs are proper names or values, never
   ordinary phrasing.

The data lives beside the repository (``../shared/data/pii``); without it the test is skipped with that reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "pii"
DATA_FILES = ("generated_large.json", "generated_small.json")
CHECKED = ("detect/pii/*.py", "tests/**/test_pii_*.py", "tests/**/pii_handwritten.py", "bench/pii_*.py",
           "provenance/cli/pii_cmd.py", "bench/README.md", "docs/guides/pii.md")
_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")
_LITERAL = re.compile(r'"([^"\n]{6,})"|\'([^\'\n]{6,})\'')


def _documents() -> list[dict]:
    if not all((DATA / name).is_file() for name in DATA_FILES):
        pytest.skip(f"PII evaluation data not found at {DATA} (a clone beside ../shared has it)")
    return [doc for name in DATA_FILES for doc in json.loads((DATA / name).read_text(encoding="utf-8"))]


def _checked_files() -> list[Path]:
    found = sorted({path for pattern in CHECKED for path in ROOT.glob(pattern)})
    assert found, "no PII files to check"
    return [path for path in found if path.name != Path(__file__).name]


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(word.lower() for word in _WORD.findall(text))


def _ngrams(tokens: tuple[str, ...], longest: int) -> set[tuple[str, ...]]:
    return {tokens[i:i + n] for n in range(1, longest + 1) for i in range(len(tokens) - n + 1)}


def _gold_values(documents: list[dict]) -> set[tuple[str, ...]]:
    values = set()
    for doc in documents:
        for span in doc["spans"]:
            value = doc["full_text"][span["start_position"]:span["end_position"]].strip()
            if len(value) >= 5 and (len(value.split()) >= 2 or any(ch.isdigit() for ch in value)):
                values.add(_tokens(value))
    return {value for value in values if value}


def _proper(word: str) -> bool:
    return len(word) >= 3 and (word[0].isupper() or any(ch.isdigit() for ch in word))


def test_no_gold_value_of_the_data_is_quoted() -> None:
    values = _gold_values(_documents())
    longest = max(len(v) for v in values)
    quoted = {}
    for path in _checked_files():
        hits = values & _ngrams(_tokens(path.read_text(encoding="utf-8")), longest)
        if hits:
            quoted[str(path.relative_to(ROOT))] = sorted(" ".join(h) for h in hits)
    assert not quoted, f"data values in PII code/tests (replace them with invented values): {quoted}"


def test_no_proper_name_pair_from_the_data_is_quoted() -> None:
    pairs = set()
    for doc in _documents():
        words = _WORD.findall(doc["full_text"])
        pairs.update((a.lower(), b.lower()) for a, b in zip(words, words[1:], strict=False)
                     if _proper(a) and _proper(b))
    quoted = {}
    for path in _checked_files():
        for match in _LITERAL.finditer(path.read_text(encoding="utf-8")):
            words = _WORD.findall(match.group(1) or match.group(2))
            hits = {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)
                    if _proper(a) and _proper(b) and (a.lower(), b.lower()) in pairs}
            if hits:
                quoted.setdefault(str(path.relative_to(ROOT)), set()).update(hits)
    assert not quoted, f"name/value pairs from the data in PII code/tests (invent others): {quoted}"
