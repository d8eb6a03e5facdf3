"""The ``Signal`` protocol and the result each signal returns per text (a dataclass, never a bare tuple)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Availability:
    """Whether a signal can score in this data home, and if not, why (shown to users, stored in verdicts)."""

    available: bool
    reason: str | None = None


@dataclass
class SignalResult:
    """One signal's judgement of one text. Subclasses add their fields; ``document_fields`` says which
    ``DocumentResult`` fields the result fills, so the document scorer is a plain loop over signals."""

    def document_fields(self) -> dict[str, Any]:
        raise NotImplementedError


@runtime_checkable
class Signal(Protocol):
    """Built by ``provenance.signals.build_signal(name, settings)``; loads its model lazily on first score."""

    name: str

    @property
    def version(self) -> str | None:
        """What produced the judgement (bundle digest, key ids...), recorded with every verdict."""

    def availability(self) -> Availability:
        """Cheap: reads cards and key files, never loads a model."""

    def score(self, texts: Sequence[str]) -> Sequence[SignalResult]:
        """One result per text, in order."""
