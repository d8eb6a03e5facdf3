"""Redaction operators: placeholder numbering, masking, keyed pseudonyms, encryption round trip."""

from __future__ import annotations

import re

import pytest

from detect.pii import PIIEntity, PIIError, redact, restore

TEXT = "Ann met Bob. Ann called Bob and Cy at 555-0100."
ENTITIES = [PIIEntity("PERSON", 0, 3, 0.9), PIIEntity("PERSON", 8, 11, 0.9), PIIEntity("PERSON", 13, 16, 0.9),
            PIIEntity("PERSON", 24, 27, 0.9), PIIEntity("PERSON", 32, 34, 0.9),
            PIIEntity("PHONE_NUMBER", 38, 46, 0.7)]


def test_placeholders_are_numbered_consistently_within_a_document() -> None:
    result = redact(TEXT, ENTITIES, "replace")
    assert result.text == ("<PERSON_1> met <PERSON_2>. <PERSON_1> called <PERSON_2> and <PERSON_3> at "
                           "<PHONE_NUMBER_1>.")
    assert len(result.items) == len(ENTITIES)
    for item in result.items:
        assert result.text[item["start"]:item["end"]].startswith("<" + item["type"])


def test_mask_keeps_length() -> None:
    result = redact(TEXT, ENTITIES[:1], "mask")
    assert result.text == "*** met Bob. Ann called Bob and Cy at 555-0100."


def test_hash_is_stable_across_documents_and_depends_on_the_secret() -> None:
    one = redact("Ann is here", [PIIEntity("PERSON", 0, 3, 0.9)], "hash", secret=b"s1" * 16).text
    two = redact("Today Ann left", [PIIEntity("PERSON", 6, 9, 0.9)], "hash", secret=b"s1" * 16).text
    other = redact("Ann is here", [PIIEntity("PERSON", 0, 3, 0.9)], "hash", secret=b"s2" * 16).text
    pseudonym = re.match(r"<PERSON_[0-9a-f]{8}>", one).group(0)
    assert pseudonym in two
    assert pseudonym not in other
    with pytest.raises(PIIError):
        redact("Ann", [PIIEntity("PERSON", 0, 3, 0.9)], "hash", secret=None)


def test_encrypt_then_restore_round_trip() -> None:
    key = b"k" * 32
    result = redact(TEXT, ENTITIES, "encrypt", key=key)
    assert "Ann" not in result.text and "555-0100" not in result.text
    assert result.text.count("<ENC:PERSON:") == 5
    assert restore(result.text, key) == TEXT
    with pytest.raises(PIIError):
        restore(result.text, b"w" * 32)
    with pytest.raises(PIIError):
        redact(TEXT, ENTITIES, "encrypt", key=b"short")


def test_no_entities_and_unknown_operator() -> None:
    assert redact("nothing", [], "replace").text == "nothing"
    with pytest.raises(PIIError):
        redact(TEXT, ENTITIES, "shred")
