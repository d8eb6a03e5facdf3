"""The ``Signal`` protocol, the base class every registered signal extends, and the per-text result.

A signal declares everything the platform needs to wire and store it: its ``name``; ``from_settings`` (its own
slice of ``Settings``); a cheap ``stamp`` (when it changes, ``SignalSet`` rebuilds the signal); ``version``
(recorded with every verdict); ``score(texts)`` -> one ``SignalResult`` per text, whose ``record()`` is what
the verdict stores under ``signals[name]``; ``indexed`` (the few stored columns it fills, for queries and the
review queue) and ``flat`` (the record's keys that also appear flat in exports and the records API).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from provenance.settings import Settings


@dataclass(frozen=True)
class Availability:
    """Whether a signal can score in this data home, and if not, why (shown to users, stored in verdicts)."""

    available: bool
    reason: str | None = None


@dataclass
class SignalResult:
    """One signal's judgement of one text. ``document_fields`` says which named ``DocumentResult`` fields the
    result fills (the five built-in signals); ``record`` is the JSON stored under ``signals[name]``."""

    def document_fields(self) -> dict[str, Any]:
        return {}

    def record(self) -> Any:
        """The stored form (JSON): by default the dataclass's fields."""
        return asdict(self)


@runtime_checkable
class Signal(Protocol):
    """Built by ``SignalSet.get(name)`` (or ``build_signal``); loads its model lazily on first score."""

    name: str

    @property
    def version(self) -> str | None:
        """What produced the judgement (bundle digest, key ids...), recorded with every verdict."""

    def availability(self) -> Availability:
        """Cheap: reads cards and key files, never loads a model."""

    def score(self, texts: Sequence[str]) -> Sequence[SignalResult]:
        """One result per text, in order."""


class BaseSignal:
    """Defaults for a registered signal: built from the whole settings with its options, never rebuilt, always
    available, no indexed columns. A signal overrides what it needs."""

    name: ClassVar[str] = ""
    indexed: ClassVar[dict[str, str]] = {}  # verdict column -> key of this signal's record it is read from
    flat: ClassVar[tuple[str, ...]] = ()  # record keys shown flat in exports and the records API

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Any:
        return cls(settings, **options)

    @classmethod
    def stamp(cls, settings: Settings, **options: Any) -> Any:
        """Cheap identity of what the signal would load now; ``SignalSet`` rebuilds the signal when it moves."""
        return None

    def availability(self) -> Availability:
        return Availability(True)

    @classmethod
    def review_share(cls, columns: Mapping[str, Any]) -> float:
        """This signal's share of a verdict's review priority, from the stored columns (``verdict``,
        ``p_machine``, ``margin``, ``watermarked``, ``ledger_match``, ``pii_count``, ``misuse``): a function of
        stored values, so a reader can recompute it with its own ledger. Default: none."""
        return 0.0
