"""The ``Signal`` protocol, the base class every registered signal extends, and the per-text result.

A signal declares everything the platform needs to wire and store it: its ``name``; ``from_settings`` (its own
slice of ``Settings``); a cheap ``stamp`` (when it changes, ``SignalSet`` rebuilds the signal); ``version``
(recorded with every verdict); ``score(texts)`` -> one ``SignalResult`` per text, whose ``record()`` is what
the verdict stores under ``signals[name]`` (its version under ``versions[name]``); ``indexed`` (the few verdict
columns copied out of that record, for queries and the review queue) and ``flat`` (the keys it shows flat in
``verdicts export`` and the records API, built from the stored records by ``flat_fields``). A signal that
declares no flat keys is shown under its name in the views' ``signals`` object instead.
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


VIEWS = ("export", "api")  # the read views: ``verdicts export`` (and the API's job pages), ``/v1/verdicts/{id}``


@dataclass
class SignalResult:
    """One signal's judgement of one text; ``record`` is the JSON stored under ``signals[name]``."""

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
    indexed: ClassVar[dict[str, str]] = {}  # verdict column -> key of this signal's record it is copied from
    flat: ClassVar[dict[str, tuple[str, ...]]] = {}  # view -> keys this signal shows flat there (see VIEWS)

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
    def flat_fields(cls, records: Mapping[str, Any], view: str) -> dict[str, Any]:
        """This signal's flat keys (``flat[view]``) in a read view, from the verdict's stored records (all of
        them, by signal name: a view may show one signal's value beside another's). Default: none; the record
        is shown under ``signals[name]``."""
        return {}

    @classmethod
    def review_share(cls, columns: Mapping[str, Any]) -> float:
        """This signal's share of a verdict's review priority, from the stored columns (``verdict``,
        ``p_machine``, ``margin``, ``watermarked``, ``ledger_match``, ``pii_count``, ``misuse``): a function of
        stored values, so a reader can recompute it with its own ledger. Default: none."""
        return 0.0
