"""The recognizers this package adds to Presidio, and the registry holding only the configured ones.

Added (patterns + context words; nothing keyed to particular names or values):
- ADDRESS: a house number and street (suffix words such as "Road", "-straat", "utca" or prefix words such as
  "Rue", "Calle"), unit designators ("Apt. 5"), PO boxes; a street match extends over the following lines or
  comma-separated parts of the address block (city, region, country, postal code). "Name Number" streets
  without a street word count only next to address context ("lives at", "address").
- POSTAL_CODE: US ZIP / UK / Canadian codes, ZIPs only near context words.
- DATE_OF_BIRTH: dates next to "born", "birth", "DOB"; DATE_TIME: dates in the common written forms
  (numeric, ISO with time, day-month-year and month-day-year spelled out, month and year, weekdays, full
  month names, clock times, years after a preposition).
- AGE: the number in "34 years old", "a 34-year-old", "aged 34", "age: 34" (0-120).
- CREDIT_CARD: 13-19 digits, grouped by spaces or dashes or not; Luhn-valid is strong evidence (1.0, like
  Presidio's checksum-validated results, so a Luhn-valid card beats an NHS number found inside it),
  Luhn-invalid counts only next to card context words (0.5). Replaces Presidio's recognizer, whose 0.3 score
  for a valid number without context words falls under the default threshold.
- IBAN_CODE: IBAN-shaped strings with a valid mod-97 checksum whatever the country (0.6), and with a failing
  checksum only next to account words (0.5); Presidio's recognizer is kept.
- ORGANIZATION: capitalised names ending in a legal-form or institution word ("... Ltd", "... Inc",
  "... Group", "University of ..."), and "A, B and C" firm names.
- LOCATION: place names from the GeoNames gazetteer (``gazetteer``); PERSON: census given names with a
  surname, or alone mid-sentence (``names``).
- PHONE_NUMBER: international digit groupings Presidio's region-limited phone recognizer misses.
- US_DRIVER_LICENSE and PASSPORT: alphanumeric IDs, only with context words (no bare-number guesses).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from presidio_analyzer import EntityRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpEngine

from detect.pii.regex_recognizer import RegexRecognizer, rule

MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
         r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
STOP = ("and|or|but|the|a|an|of|to|in|on|at|by|for|from|with|was|were|is|are|be|been|had|has|have|it|its|he|she|"
        "they|we|you|i|my|his|her|their|our|your|this|that|these|those|than|then|about|over|after|before|since|"
        "only|top|page|chapter|article|section|number|no|version|year|years|times")
# A word of a street name: letters (any script), may contain ' . - but is not a function word.
STREET_WORD = rf"(?!(?:{STOP})\b)[^\W\d_][\w'’.-]*"
STREET_SUFFIX = (r"(?:street|st|road|rd|avenue|ave|av|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|square|sq|"
                 r"terrace|ter|way|highway|hwy|parkway|pkwy|circle|cir|trail|trl|crescent|cres|close|row|walk|"
                 r"alley|plaza|route|rte|mews|grove|gardens|hill|park|quay|wharf|esplanade|promenade|green|gate|"
                 r"str|ul|utca|u|útja|út|tér|körút)\.?")
STREET_PREFIX = (r"(?:c/|rue|via|viale|calle|avenida|avda|avenue|av|piazza|plaza|platz|plac|pl|ulica|ul|strada|rua|"
                 r"travessa|largo|carrer|carretera|camino|paseo|praça|boulevard|bd|chemin|allée|quai|cours|"
                 r"route|odos|οδός|πλατεία|λεωφόρος|ulitsa|prospekt|ул|улица|проспект)\.?")
# Street names with a fused suffix word (Dutch, German, Nordic, Hungarian, Finnish, Slavic...), then a number.
FUSED_SUFFIX = (r"[^\W\d_]*(?:straat|strasse|straße|gasse|weg|laan|plein|gracht|kade|dijk|singel|steeg|markt|"
                r"allee|ring|damm|ufer|gata|gatan|gade|vej|vei|veien|vegen|väg|vägen|stræde|katu|tie|kuja|"
                r"polku|utca|útja|ulica|ulice|cesta|iela|gatve|tänav|puistotie|torget|torv)")
NUMBER = r"\d{1,5}[a-z]?(?:[/-]\d{1,4})?"
_UPPER = r"[A-ZÀ-ÖØ-ÞΑ-ΩА-Я]"
UNIT = r"(?:apt|apartment|suite|ste|unit|flat|room|rm|floor|fl|bldg|building)\.?\s*(?:no\.?\s*)?#?\s*\d{1,5}[a-z]?"
# One further part of an address block after a street: a unit, a place name (<= 4 words) with an optional
# region code / postal code, or a postal code alone.
_PART = (rf"(?:{UNIT}|(?:[^\W\d_][\w'’().-]*(?:[ \t]+[^\W\d_][\w'’().-]*){{0,4}})(?:[ \t]+[A-Z0-9]{{2,3}})?"
         rf"(?:[ \t]+\d{{4,6}}(?:-\d{{3,4}})?)?|\d{{4,6}}(?:-\d{{3,4}})?)(?![ \t]*[-.]?[ \t]*\d)")
# Parts continue over a newline (line-structured blocks: any part), or over a comma (only a capitalised part,
# a unit or a code, so "..., and he left" does not join).
_CAP_PART = rf"(?:{UNIT}|(?!(?:{STOP})\b)[A-ZÀ-ÖØ-ÞΑ-ΩА-Я][\w'’().-]*(?:[ \t]+[^\W\d_][\w'’().-]*){{0,3}}" \
            rf"(?:[ \t]+\d{{4,6}})?|\d{{4,6}}(?:-\d{{3,4}})?)"
BLOCK_TAIL = rf"(?:(?:[ \t]*\n[ \t,]*\n?[ \t]*{_PART})|(?:[ \t]*,[ \t]*{_CAP_PART})|(?:[ \t]+{UNIT})){{0,6}}"

CONTEXT_ADDRESS = ("address", "addresses", "live", "lives", "lived", "living", "located", "location", "reside",
                   "resides", "residence", "street", "ship", "shipping", "deliver", "delivery", "mail", "billing",
                   "return to", "visit", "office", "home", "house", "apartment", "moved", "move", "zip", "postal",
                   "postcode", "corner", "store", "shop")


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def luhn_valid(number: str) -> bool:
    digits = [int(ch) for ch in _digits(number)]
    checksum = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    return len(digits) >= 12 and checksum % 10 == 0


_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})\b")
_SSN_LIKE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_IP_LIKE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def plausible_phone(value: str) -> bool:
    """7-15 digits (extension aside), and not a date, SSN, IPv4 address or Luhn-valid card number."""
    core = re.split(r"\s?(?:x|ext\.?)\s?\d", value, maxsplit=1, flags=re.IGNORECASE)[0]
    count = len(_digits(core))
    if not 7 <= count <= 15 or _DATE_LIKE.match(core) or _SSN_LIKE.match(core) or _IP_LIKE.match(core):
        return False
    return not (count >= 13 and luhn_valid(core))


def address_recognizers(language: str) -> list[EntityRecognizer]:
    street_suffixed = rf"\b(?:{NUMBER}[ \t]+)?{NUMBER}[ \t]+(?:{STREET_WORD}[ \t]+){{0,4}}{STREET_SUFFIX}(?!\w)"
    # A prefix street with a house number before or after it; without one, only when both the prefix word and
    # the last name word are capitalised ("Rue Saint Denis"), since "via", "route" and "plaza" are also
    # ordinary words ("travelled via Lisbon").
    street_prefixed = (rf"\b(?:(?:{NUMBER}[ \t]+)?{NUMBER}[ \t]+{STREET_PREFIX}[ \t]+(?:{STREET_WORD}[ \t]+){{0,3}}"
                       rf"{STREET_WORD}(?:[ \t]+{NUMBER}\b)?|{STREET_PREFIX}[ \t]+(?:{STREET_WORD}[ \t]+){{0,3}}"
                       rf"{STREET_WORD}[ \t]+{NUMBER}\b|(?-i:(?={_UPPER})){STREET_PREFIX}[ \t]+"
                       rf"(?:{STREET_WORD}[ \t]+){{0,3}}(?-i:(?={_UPPER})){STREET_WORD})")
    fused = rf"\b(?:{NUMBER}[ \t]+)?(?:{STREET_WORD}[ \t]+){{0,2}}{FUSED_SUFFIX}[ \t]+{NUMBER}\b"
    named_numbered = rf"\b(?:{NUMBER}[ \t]+)?(?:{STREET_WORD}[ \t]+){{1,3}}\d{{1,5}}[a-z]?\b"
    # "Name Number" followed by a unit on the same or the next line ("Name 12" then "Apt. 3") is a street.
    with_unit = rf"{named_numbered}\.?(?=(?:[ \t,]*\n[^\w\n]{{0,6}}|[ \t,]+){UNIT})"
    strong = RegexRecognizer("StreetAddressRecognizer", "ADDRESS", [
        rule(street_suffixed + BLOCK_TAIL, 0.6),
        rule(fused + BLOCK_TAIL, 0.6),
        rule(with_unit + BLOCK_TAIL, 0.55),
        rule(street_prefixed + BLOCK_TAIL, 0.5),
        rule(rf"\b{UNIT}\b" + BLOCK_TAIL, 0.5),
        rule(r"\bp\.?\s?o\.?\s?box\s+\d{1,6}\b" + BLOCK_TAIL, 0.6),
        rule(r"\b(?:PSC|CMR|Unit)[ \t]+\d{3,5},?[ \t]+Box[ \t]+\d{1,5}(?:[ \t,]*\n?[ \t]*(?:APO|FPO|DPO)[ \t]+"
             r"(?:AA|AE|AP)[ \t]+\d{5})?|\b(?:APO|FPO|DPO)[ \t]+(?:AA|AE|AP)[ \t]+\d{5}\b", 0.6, flags=0),
        # US military ship addresses (USPS Publication 28): "USS <name>" then "FPO AE 09xxx".
        rule(r"\b(?:USS|USNS|USNV|USCGC)[ \t]+[A-Z][\w'’.-]*(?:[ \t]+[A-Z][\w'’.-]*){0,2}[ \t,]*\n?[ \t]*"
             r"FPO[ \t]+(?:AA|AE|AP)[ \t]+\d{5}\b", 0.6, flags=0),
    ], precheck=r"\d", language=language)
    weak = RegexRecognizer("ContextualAddressRecognizer", "ADDRESS", [rule(named_numbered + BLOCK_TAIL, 0.1)],
                           context=CONTEXT_ADDRESS, context_score=0.55, context_required=True,
                           window_before=40, window_after=0, precheck=r"\d", language=language)
    return [strong, weak]


def postal_code_recognizer(language: str) -> EntityRecognizer:
    return RegexRecognizer("PostalCodeRecognizer", "POSTAL_CODE", [
        rule(r"\b\d{5}(?:-\d{4})?\b", 0.05),
        rule(r"\b[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[ABD-HJLNP-UW-Z]{2}\b", 0.45, flags=0),
        rule(r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ \t]?\d[ABCEGHJ-NPRSTV-Z]\d\b", 0.45, flags=0),
        rule(r"\b\d{4,6}\b", 0.01),
    ], context=("zip", "zipcode", "postal", "postcode", "post code", "plz", "cep", "pin code"),
        context_score=0.6, window_before=24, window_after=0, precheck=r"\d", language=language)


_DATES = [
    r"\b\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)?\d{2}\b",
    r"\b(?:19|20)\d{2}[/.-]\d{1,2}[/.-]\d{1,2}\b",
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{MONTH}\.?,?[ \t]+\d{{4}}\b",
    rf"\b{MONTH}\.?[ \t]+\d{{1,2}}(?:st|nd|rd|th)?,?[ \t]+\d{{4}}\b",
]


WEEKDAY = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
_ORDINAL = r"(?:st|nd|rd|th)"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:[ \t]?[ap]\.?m\b\.?)?|\d{1,2}[ \t]?[ap]\.?m\b\.?"
_DATE_TIME = [
    r"\b(?:19|20)\d{2}-\d{1,2}-\d{1,2}(?:[T \t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
    rf"\b{MONTH}\.?[ \t]+\d{{1,2}}{_ORDINAL}?(?:,?[ \t]+\d{{4}})?(?:,?[ \t]+(?:at[ \t]+)?(?:{_TIME}))?(?!\d)",
    rf"\b\d{{1,2}}{_ORDINAL}?[ \t]+(?:of[ \t]+)?{MONTH}\b\.?(?:,?[ \t]+\d{{4}}\b)?",
    rf"\b{MONTH}\.?,?[ \t]+(?:19|20)\d{{2}}\b",
    rf"\b\d{{1,2}}[-/ ]{MONTH}[-/ ](?:19|20)?\d{{2}}\b",
    rf"\b(?:{WEEKDAY}),?(?:[ \t]+(?:the[ \t]+)?\d{{1,2}}{_ORDINAL}?\b)?",
    rf"\b(?:{_TIME})",
    r"\b(?:in|since|from|until|till|by|during|circa|before|after|year|of)[ \t]+((?:1[89]|20)\d{2})(?:'?s)?\b",
    r"\b((?:1[89]|20)\d0'?s)\b",
]
_REPORT_GROUP_1 = frozenset(range(len(_DATE_TIME) - 2, len(_DATE_TIME)))  # the year rules report the year
# Full month names alone ("in August"); May and March only capitalised (they are also ordinary words), and
# not before a capitalised word ("April Smith" is a name).
_MONTH_ALONE = (r"\b(?:January|February|April|June|July|August|September|October|November|December|March|May"
                r"|january|february|april|june|july|august|september|october|november|december)\b"
                r"(?![ \t]+[A-Z][a-z])")


def _plausible_date(value: str) -> bool:
    numbers = [int(n) for n in re.findall(r"\d+", value)]
    if len(numbers) >= 3 and "-" not in value[:5] and not re.match(r"\d{4}", value):
        first, second = numbers[0], numbers[1]
        return 1 <= min(first, second) <= 12 and max(first, second) <= 31
    return True


def date_recognizers(language: str) -> list[EntityRecognizer]:
    dob = RegexRecognizer("DateOfBirthRecognizer", "DATE_OF_BIRTH", [rule(p, 0.2) for p in _DATES],
                          context=("born", "birth", "birthday", "birthdate", "dob", "d.o.b", "b-day", "bday"),
                          context_score=0.85, context_required=True, window_before=40, window_after=8,
                          precheck=r"\d", language=language)
    dates = RegexRecognizer("DateTimeRecognizer", "DATE_TIME", [
        *[rule(p, 0.6, validate=_plausible_date) for p in _DATES],
        *[rule(p, 0.6, group=int(i in _REPORT_GROUP_1)) for i, p in enumerate(_DATE_TIME)],
        rule(_MONTH_ALONE, 0.45, flags=0),
    ], language=language)
    return [dob, dates]


def age_recognizer(language: str) -> EntityRecognizer:
    """The age itself (the number): "34 years old", "a 34-year-old", "aged 34", "age: 34", "34 y/o"."""
    number = r"(1[01]\d|120|\d{1,2})"
    return RegexRecognizer("AgeRecognizer", "AGE", [
        rule(rf"\b{number}[ \t-]*(?:years?|yrs?)[ \t-]*(?:of[ \t]+age|old)\b", 0.7, group=1),
        rule(rf"\b{number}[ \t]*(?:y/o|yo|y\.o\.)(?!\w)", 0.6, group=1),
        rule(rf"\b(?:aged?|age[ \t]+of)[ \t]*:?[ \t]*{number}\b(?![ \t]*(?:%|percent|degrees))", 0.6, group=1),
        rule(rf"\b(?:turned|turning|turns)[ \t]+{number}[ \t]+(?:this|last|next|on|in|today|yesterday)\b", 0.5,
             group=1),
    ], precheck=r"\d", language=language)


def luhn_card(value: str) -> bool:
    """Luhn-valid, 12-19 digits, a card-network first digit (1-6). 12 digits: Maestro cards are issued with
    12 to 19 (ISO/IEC 7812 allows 8-19); Presidio's defaults report such runs as bank numbers."""
    digits = _digits(value)
    return 12 <= len(digits) <= 19 and digits[0] in "123456" and luhn_valid(digits) and len(set(digits)) > 1


def card_recognizers(language: str) -> list[EntityRecognizer]:
    grouped = (r"(?<![\w-])(?:\d{4}([ \t-])\d{4}\1\d{4}(?:\1\d{1,7})?(?:\1\d{1,4})?|\d{4}([ \t-])\d{6}\2\d{4,5}"
               r"|\d{4}([ \t-])\d{4}\3\d{5})(?![\w]|-\d)")
    plain = r"(?<![\w-])\d{12,19}(?![\w]|-\d)"
    mixed = r"(?<![\w-])\d{4}[ -]?\d{3,4}[ -]?\d{3,4}[ -]?\d{3,5}(?![\w]|-\d)"  # irregular separators
    strong = RegexRecognizer("CardNumberRecognizer", "CREDIT_CARD", [
        rule(grouped, 1.0, validate=luhn_card), rule(plain, 1.0, validate=luhn_card),
        rule(mixed, 1.0, validate=luhn_card),
    ], precheck=r"\d{4}", language=language)
    weak = RegexRecognizer("CardNumberContextRecognizer", "CREDIT_CARD", [
        rule(grouped, 0.2, validate=lambda v: not luhn_card(v)), rule(plain, 0.2, validate=lambda v: not luhn_card(v)),
    ], context=("card", "cards", "credit", "debit", "visa", "mastercard", "amex", "cc", "ccn", "pan", "cardholder"),
        context_score=0.5, context_required=True, window_before=40, window_after=12, precheck=r"\d{4}",
        language=language)
    return [strong, weak]


def iban_checksum_valid(value: str) -> bool:
    """ISO 13616 mod-97 check: country code and check digits moved to the end, letters as 10..35."""
    compact = "".join(ch for ch in value if ch.isalnum()).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _iban_shaped(value: str) -> bool:
    return sum(ch.isdigit() for ch in value) >= 8


_IBAN_COMPACT = r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b"
_IBAN_GROUPED = r"\b[A-Z]{2}\d{2}(?:[ -][A-Z0-9]{4}){2,7}(?:[ -][A-Z0-9]{1,4})?\b"


def iban_recognizers(language: str) -> list[EntityRecognizer]:
    """IBANs beside Presidio's recognizer, which also requires its per-country length/format table to know the
    country: any IBAN-shaped string with a valid mod-97 checksum (0.6, without context words: the checksum is
    the evidence), and IBAN-shaped strings whose checksum fails next to account words (0.5): a mistyped IBAN
    still identifies an account holder."""
    valid = RegexRecognizer("IbanChecksumRecognizer", "IBAN_CODE", [
        rule(_IBAN_COMPACT, 0.6, validate=lambda v: _iban_shaped(v) and iban_checksum_valid(v)),
        rule(_IBAN_GROUPED, 0.6, validate=lambda v: _iban_shaped(v) and iban_checksum_valid(v)),
    ], precheck=r"\d{2}", language=language)
    context = RegexRecognizer("IbanContextRecognizer", "IBAN_CODE", [
        rule(_IBAN_COMPACT, 0.2, validate=_iban_shaped, flags=0),
        rule(_IBAN_GROUPED, 0.2, validate=_iban_shaped, flags=0),
    ], context=("iban", "account", "acct", "bank", "transfer", "wire", "swift", "bic", "sepa", "payee"),
        context_score=0.5, context_required=True, window_before=48, window_after=16, precheck=r"\d{2}",
        language=language)
    return [valid, context]


_ORG_FORMS = (r"(?:Inc|Incorporated|LLC|L\.L\.C|Ltd|Limited|Corp|Corporation|Company|Co|Group|GmbH|AG|SA|S\.A|SAS|"
              r"PLC|plc|LLP|LP|NV|BV|Pty|Holdings|Partners|Associates|Industries|Technologies|Systems|Solutions|"
              r"Services|Enterprises|Ventures|Labs|Foundation|Institute|University|College|Bank|Hospital|Clinic|"
              r"Agency|Consulting|Capital|Media|Studios|and[ \t]+Sons)")
_CAP = r"(?!(?:The|A|An|And|Or|Of|In|On|At|By|For|To|With|My|Our|Your|His|Her|Their|This|That|I)\b)[A-Z][\w&'’.-]*"


def organization_recognizer(language: str) -> EntityRecognizer:
    return RegexRecognizer("OrganizationFormRecognizer", "ORGANIZATION", [
        rule(rf"\b{_CAP}(?:(?:,?[ \t]+|-)(?:and[ \t]+|&[ \t]+)?{_CAP}){{0,4}}[ \t,]+{_ORG_FORMS}\b\.?", 0.55,
             flags=0),
        rule(rf"\b(?:University|Bank|Department|Ministry|Institute|College|Museum|Bureau|Office|School|Academy)"
             rf"[ \t]+of[ \t]+(?:the[ \t]+)?{_CAP}(?:[ \t]+{_CAP}){{0,3}}", 0.55, flags=0),
    ], language=language)


def firm_name_recognizer(language: str) -> EntityRecognizer:
    """"A, B and C" firm names; ranked with the NER (``GAP_FILLERS``): a list of people stays PERSON spans."""
    return RegexRecognizer("FirmNameRecognizer", "ORGANIZATION", [
        rule(rf"\b{_CAP},[ \t]+{_CAP}[ \t]+(?:and|&)[ \t]+{_CAP}\b", 0.45, flags=0),
    ], language=language)


def phone_recognizer(language: str) -> EntityRecognizer:
    grouped = (r"(?<![\w+.-])(?:(?:\+|00)\d{1,3}[ \t.-]?)?(?:\(\d{1,4}\)[ \t.-]?)?\d{2,4}(?:[ \t.-]\d{2,5}){1,4}"
               r"(?:[ \t]?(?:x|ext\.?)[ \t]?\d{1,6})?(?!\w|[-.]\d)")
    compact = r"(?<![\w+.-])(?:\+\d{1,3}[ \t]?)?\(\d{1,4}\)[ \t]?\d{3,10}(?:[ \t]?(?:x|ext\.?)[ \t]?\d{1,6})?(?!\w)"
    # National forms with a long subscriber part ("0xxx xxxxxxx"): an area code, then 6-8 digits.
    national = r"(?<![\w+.-])\(?0?\d{2,4}\)?[ \t.-]\d{6,8}(?!\w|[-.]\d)"
    # Ten digits in one run, shaped as a North American number (area code and exchange do not start 0/1).
    nanp_run = r"(?<![\w+.-])[2-9]\d{2}[2-9]\d{6}(?!\w|[-.]\d)"
    return RegexRecognizer("InternationalPhoneRecognizer", "PHONE_NUMBER", [
        rule(grouped, 0.4, validate=plausible_phone),
        rule(compact, 0.45, validate=plausible_phone),
        rule(national, 0.4, validate=plausible_phone),
        rule(nanp_run, 0.4, validate=plausible_phone),
    ], context=("phone", "phones", "phoned", "telephone", "tel", "call", "calls", "called", "calling", "mobile",
                "cell", "fax", "contact", "reach", "text", "sms", "whatsapp", "office", "desk", "landline", "number",
                "dial", "ring"),
        context_score=0.75, window_before=40, window_after=12, precheck=r"\d{2}", language=language)


def id_recognizers(language: str) -> list[EntityRecognizer]:
    licence = RegexRecognizer("DriverLicenseRecognizer", "US_DRIVER_LICENSE", [
        rule(r"\b[A-Z]{1,2}\d{4,14}[A-Z]?\b", 0.3),
        rule(r"\b\d{6,14}[A-Z]?\b", 0.3),
        rule(r"\b[A-Z]\d{2,3}-\d{3,4}-\d{2,4}(?:-\d{1,3})?\b", 0.3),
    ], context=("driver", "driver's", "drivers", "driving", "licence", "license", "lic", "dl", "dln", "permit"),
        context_score=0.8, context_required=True, window_before=40, window_after=0, precheck=r"\d{4}",
        language=language)
    passport = RegexRecognizer("PassportRecognizer", "PASSPORT", [
        rule(r"\b[A-Z]{1,2}\d{6,9}\b", 0.3),
        rule(r"\b\d{8,9}\b", 0.3),
    ], context=("passport", "passports", "travel document"), context_score=0.8, context_required=True,
        window_before=40, window_after=0, precheck=r"\d{6}", language=language)
    return [licence, passport]


def deny_list_recognizers(terms: Iterable[str], language: str) -> list[EntityRecognizer]:
    """``TYPE:term`` entries report ``TYPE``; plain entries report ``DENY_LIST``. Whole-word, case-insensitive."""
    by_type: dict[str, list[str]] = {}
    for entry in terms:
        kind, sep, term = entry.partition(":")
        if not sep or not kind.strip() or not kind.strip().replace("_", "").isalnum() or " " in kind.strip():
            kind, term = "DENY_LIST", entry
        if term.strip():
            by_type.setdefault(kind.strip().upper(), []).append(term.strip())
    recognizers: list[EntityRecognizer] = []
    for kind, words in sorted(by_type.items()):
        alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        recognizers.append(RegexRecognizer(f"DenyList_{kind}", kind, [rule(rf"(?<!\w)(?:{alternatives})(?!\w)", 1.0)],
                                           language=language))
    return recognizers


def custom_recognizers(language: str) -> list[EntityRecognizer]:
    from detect.pii.gazetteer import GazetteerRecognizer
    from detect.pii.names import CensusNameRecognizer

    return [*address_recognizers(language), postal_code_recognizer(language), *date_recognizers(language),
            phone_recognizer(language), *id_recognizers(language),
            age_recognizer(language), *card_recognizers(language), organization_recognizer(language),
            firm_name_recognizer(language), *iban_recognizers(language),
            GazetteerRecognizer(language), CensusNameRecognizer(language)]


def presidio_recognizers(language: str) -> list[EntityRecognizer]:
    """Presidio's own pattern recognizers that stay (its card, date, US licence and phone ones are replaced)."""
    from presidio_analyzer.predefined_recognizers import (
        CryptoRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        MedicalLicenseRecognizer,
        NhsRecognizer,
        UrlRecognizer,
        UsBankRecognizer,
        UsItinRecognizer,
        UsPassportRecognizer,
        UsSsnRecognizer,
    )

    classes = (CryptoRecognizer, EmailRecognizer, IbanRecognizer,
               IpRecognizer, MedicalLicenseRecognizer, NhsRecognizer, UrlRecognizer, UsBankRecognizer,
               UsItinRecognizer, UsSsnRecognizer)
    found: list[EntityRecognizer] = [cls(supported_language=language) for cls in classes]
    passport = UsPassportRecognizer(supported_language=language)
    passport.supported_entities = ["PASSPORT"]  # one passport type for US and other passports
    found.append(passport)
    # Presidio's default registry overrides every recognizer's own regex flags with its global ones (DOTALL,
    # MULTILINE, IGNORECASE); built one by one, some keep narrower ones (the IBAN recognizer's lack IGNORECASE,
    # so lower-case IBANs the defaults report were missed). Use the registry's flags, as the defaults do.
    flags = RecognizerRegistry().global_regex_flags
    for recognizer in found:
        if hasattr(recognizer, "global_regex_flags"):
            recognizer.global_regex_flags = flags
    return found


def build_registry(entities: Iterable[str], deny_list: Iterable[str], nlp_engine: NlpEngine,
                   language: str = "en") -> RecognizerRegistry:
    """A registry with only the recognizers that can report a configured entity (plus deny-list ones)."""
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    wanted = set(entities)
    ner_entities = sorted(wanted & set(nlp_engine.get_supported_entities()))
    candidates: list[EntityRecognizer] = [*presidio_recognizers(language), *custom_recognizers(language)]
    chosen = [r for r in candidates if wanted & set(r.supported_entities)]
    for recognizer in chosen:
        recognizer.supported_entities = [e for e in recognizer.supported_entities if e in wanted]
    if ner_entities:
        chosen.append(SpacyRecognizer(supported_language=language, supported_entities=ner_entities))
    chosen.extend(deny_list_recognizers(deny_list, language))
    registry = RecognizerRegistry(supported_languages=[language])
    for recognizer in chosen:
        registry.add_recognizer(recognizer)
    return registry
