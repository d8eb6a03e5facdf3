"""The PII engine on crafted sentences: built-in and added recognizers, overlap resolution, lists, thresholds."""

from __future__ import annotations

import pytest

from detect.pii import PIIConfig, PIIError, get_analyzer


@pytest.fixture(scope="module")
def analyzer():
    return get_analyzer(PIIConfig())


def found(analyzer, text: str) -> list[tuple[str, str]]:
    return [(e.type, text[e.start:e.end]) for e in analyzer.analyze(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("Write to jane.doe@example.org today.", ("EMAIL_ADDRESS", "jane.doe@example.org")),
    ("Please call me on (212) 555-0100 tomorrow.", ("PHONE_NUMBER", "(212) 555-0100")),
    ("My mobile: +44 20 7946 0958", ("PHONE_NUMBER", "+44 20 7946 0958")),
    ("Card 4532015112830366 was declined.", ("CREDIT_CARD", "4532015112830366")),
    ("His SSN is 536-41-2298.", ("US_SSN", "536-41-2298")),
    ("Server at 192.168.10.24 is down.", ("IP_ADDRESS", "192.168.10.24")),
    ("IBAN GB82WEST12345698765432 please.", ("IBAN_CODE", "GB82WEST12345698765432")),
    ("She lives at 221 Baker Street near the park.", ("ADDRESS", "221 Baker Street")),
    ("Ship it to Lindenstraat 41 please.", ("ADDRESS", "Lindenstraat 41")),
    ("Send it to PO Box 7731 by Friday.", ("ADDRESS", "PO Box 7731")),
    ("ZIP: 90210", ("POSTAL_CODE", "90210")),
    ("The office postcode is SW1A 1AA.", ("POSTAL_CODE", "SW1A 1AA")),
    ("She was born on 5/17/1968 in a small town.", ("DATE_OF_BIRTH", "5/17/1968")),
    ("DOB: March 3, 1985", ("DATE_OF_BIRTH", "March 3, 1985")),
    ("My driver's license number is A1234567.", ("US_DRIVER_LICENSE", "A1234567")),
    ("His passport number is X12345678.", ("PASSPORT", "X12345678")),
])
def test_finds_builtin_and_added_entities(analyzer, text: str, expected: tuple[str, str]) -> None:
    assert expected in found(analyzer, text)


def test_context_is_required_for_bare_ids(analyzer) -> None:
    assert not any(t in {"US_DRIVER_LICENSE", "PASSPORT"} for t, _ in found(analyzer, "Order A1234567 shipped."))
    assert ("DATE_OF_BIRTH", "5/17/1968") not in found(analyzer, "The meeting was on 5/17/1968.")


def test_phone_number_is_reported_once_with_one_type(analyzer) -> None:
    text = "Call 020 7946 0958 or 401 555 0199 today."  # 10 digits: Presidio's NHS pattern also matches these
    entities = analyzer.analyze(text)
    spans = [(e.start, e.end) for e in entities]
    assert len(spans) == len(set(spans))
    for a in entities:
        assert not any(a is not b and a.start < b.end and b.start < a.end for b in entities)
    assert [e.type for e in entities if text[e.start:e.end][0].isdigit()] == ["PHONE_NUMBER", "PHONE_NUMBER"]


def test_results_never_overlap_and_are_sorted(analyzer) -> None:
    # Invented values: a contact block with a name, firm, address lines, two phone lines, a birth date, a card.
    text = ("Marguerite Oyelaran\nTallowmere Consulting\n58 12 Quillon Bend Crescent, ASHCOMBE, Portugal\n"
            "31 442 07 19 office\n001-615-202-3381x4471 fax\nborn 1/2/1980, card 4532015112830366")
    entities = analyzer.analyze(text)
    assert entities == sorted(entities, key=lambda e: e.start)
    for left, right in zip(entities, entities[1:], strict=False):
        assert left.end <= right.start


def test_allow_list_deny_list_and_thresholds() -> None:
    text = "Contact Jane Smith of Acme about project Bluebird at jane@example.org."
    base = get_analyzer(PIIConfig.build(deny_list=["Bluebird", "PROJECT_CODE:Acme"]))
    kinds = {text[e.start:e.end]: e.type for e in base.analyze(text)}
    assert kinds["Bluebird"] == "DENY_LIST" and kinds["Acme"] == "PROJECT_CODE"
    allowed = get_analyzer(PIIConfig.build(allow_list=["jane smith"]))
    assert "Jane Smith" not in [text[e.start:e.end] for e in allowed.analyze(text)]
    strict = get_analyzer(PIIConfig.build(thresholds={"PERSON": 0.99}))
    assert all(e.type != "PERSON" for e in strict.analyze(text))
    assert any(e.type == "EMAIL_ADDRESS" for e in strict.analyze(text))


def test_only_configured_entities_are_reported() -> None:
    only_email = get_analyzer(PIIConfig.build(entities=["EMAIL_ADDRESS"]))
    text = "John Smith, 536-41-2298, john@example.com"
    assert [e.type for e in only_email.analyze(text)] == ["EMAIL_ADDRESS"]


def test_unknown_entity_type_is_a_clear_error() -> None:
    with pytest.raises(PIIError, match="NOT_A_TYPE"):
        get_analyzer(PIIConfig.build(entities=["NOT_A_TYPE"]))


def test_bad_thresholds_are_rejected() -> None:
    with pytest.raises(PIIError):
        PIIConfig.build(thresholds={"PERSON": 1.5})


@pytest.mark.parametrize("text", ["", "   \n\t", "no personal data in this sentence at all.", "😀😀😀 🎉",
                                  "مرحبا بالعالم، هذا نص عربي", "שלום עולם"])
def test_empty_and_pii_free_text(analyzer, text: str) -> None:
    assert all(e.type not in {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"} for e in analyzer.analyze(text))
    assert analyzer.analyze("") == []


def test_offsets_are_python_string_indices_with_emoji_and_rtl(analyzer) -> None:
    text = "😀🎉 שלום مرحبا write to jane@example.org or call (212) 555-0100 🙂"
    entities = {e.type: e for e in analyzer.analyze(text)}
    assert text[entities["EMAIL_ADDRESS"].start:entities["EMAIL_ADDRESS"].end] == "jane@example.org"
    assert text[entities["PHONE_NUMBER"].start:entities["PHONE_NUMBER"].end] == "(212) 555-0100"


def test_batch_matches_single_and_keeps_order(analyzer) -> None:
    texts = ["john@example.com", "", "Call (212) 555-0100", "nothing here", "SSN 536-41-2298"]
    assert analyzer.analyze_batch(texts) == [analyzer.analyze(t) for t in texts]


def test_engine_is_cached_per_config() -> None:
    assert get_analyzer(PIIConfig()) is get_analyzer(PIIConfig())


def test_vocabulary_does_not_grow_over_unseen_strings(analyzer) -> None:
    """Blocks run inside spaCy's memory zone: strings interned for new words are released afterwards."""
    import random
    import string

    strings = analyzer.nlp_engine.get_nlp("en").vocab.strings
    analyzer.analyze("warm-up text with John Smith")
    before = len(strings)
    rng = random.Random(0)
    texts = [" ".join("".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(12)) for _ in range(300)]
    analyzer.analyze_batch(texts)
    assert len(strings) <= before + 50


@pytest.mark.slow
def test_worker_processes_give_the_same_results() -> None:
    from detect.pii import PIIAnalyzer

    texts = ["Call (212) 555-0100", "jane@example.org", "", "SSN 536-41-2298"] * 100
    parallel = PIIAnalyzer(PIIConfig(n_process=2, multiprocess_min_docs=10))
    try:
        assert parallel.analyze_batch(texts) == get_analyzer(PIIConfig()).analyze_batch(texts)
    finally:
        parallel.close()


def test_postcode_after_an_address_joins_the_address_block(analyzer) -> None:
    text = "Write to 221B Baker Street, London NW1 6XE."
    assert found(analyzer, text) == [("ADDRESS", "221B Baker Street, London NW1 6XE")]


@pytest.mark.parametrize(("text", "expected"), [
    # Round three (issue 30): forms Presidio's defaults report that the engine used to drop. Invented values.
    ("Paid with card 501817423962 yesterday.", ("CREDIT_CARD", "501817423962")),  # 12-digit Luhn (Maestro)
    ("Her number is 3125550172, call after six.", ("PHONE_NUMBER", "3125550172")),
    ("Office line 0391 4407823 for the clinic.", ("PHONE_NUMBER", "0391 4407823")),
    ("Refund to QZ81TALL40417723991 please.", ("IBAN_CODE", "QZ81TALL40417723991")),  # valid mod-97, any country
    ("Mail for USS Quillonbeck\nFPO AE 09512 arrives weekly.", ("ADDRESS", "USS Quillonbeck\nFPO AE 09512")),
    ("Deliver to C/ Tallowmere Alta 14 tomorrow.", ("ADDRESS", "C/ Tallowmere Alta 14")),
    ("The parcel went to Lyon 69002 on Friday.", ("ADDRESS", "Lyon 69002")),
    ("Refund to qz81tall40417723991 please.", ("IBAN_CODE", "qz81tall40417723991")),  # lower case, as defaults
    ("GB IBAN gb82 west 1234 5698 7654 32 on file.", ("IBAN_CODE", "gb82 west 1234 5698 7654 32")),
    ("Card 4552-0184-7730-2160-003 was used.", ("CREDIT_CARD", "4552-0184-7730-2160-003")),  # 19 digits, 5 groups
])
def test_forms_the_defaults_report(analyzer, text: str, expected: tuple[str, str]) -> None:
    assert expected in found(analyzer, text)


def test_vague_times_and_ordinary_words_stay_unmarked(analyzer) -> None:
    kinds = found(analyzer, "We spoke this morning and travelled via the coast road later.")
    assert not any(kind in {"DATE_TIME", "ADDRESS"} for kind, _ in kinds)


def test_a_ner_name_keeps_its_part_outside_a_winning_pattern_span() -> None:
    from detect.pii.resolve import Candidate, resolve

    text = "Bank of Quillon Falls"
    pattern = Candidate("ORGANIZATION", 0, 7, 0.55)  # "Bank of": a pattern result, ranked first
    ner = Candidate("LOCATION", 8, 21, 0.85, from_ner=True)  # "Quillon Falls"
    widened = Candidate("LOCATION", 5, 21, 0.85, from_ner=True)  # "of Quillon Falls", overlapping the pattern
    spans = [(e.type, text[e.start:e.end]) for e in resolve(text, [pattern, widened, ner], PIIConfig())]
    assert ("ORGANIZATION", "Bank of") in spans and ("LOCATION", "Quillon Falls") in spans


def test_a_ner_name_stops_at_the_line_break_and_drops_quote_marks() -> None:
    from detect.pii.resolve import Candidate, resolve

    text = "Quillon Marsh\n> Address follows"
    entities = resolve(text, [Candidate("PERSON", 0, 24, 0.85, from_ner=True)], PIIConfig())
    assert [(e.type, text[e.start:e.end]) for e in entities] == [("PERSON", "Quillon Marsh")]


def test_lower_case_given_name_with_a_non_ascii_surname(analyzer) -> None:
    assert ("PERSON", "julie dvořáčková") in found(analyzer, "the form was sent by julie dvořáčková last week")
