"""The registry of signals: a name per line, pointing at the class that judges texts under that name.

Adding a signal is one class and one line here (or one ``register`` call, which is how a test or a plugin adds
one). Everything downstream (the document scorer, the verdict row, the export, the records API and the
dashboard item page) loops over this registry, so nothing else has to learn the new name. Classes are imported
by dotted path on first use, so reading the registry loads no model library.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from provenance.settings import Settings
from provenance.signals.base import Signal


@dataclass(frozen=True)
class Entry:
    """Where a signal's class lives and whether the scanning pipeline scores every document with it (the
    ledger lookup runs at write time, against the transaction, so it is not a per-document scorer)."""

    target: str | type
    document: bool = True

    def load(self) -> type:
        if isinstance(self.target, type):
            return self.target
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


REGISTRY: dict[str, Entry] = {
    "detection": Entry("provenance.signals.detection:DetectionSignal"),
    "pii": Entry("provenance.signals.pii:PIISignal"),
    "toxicity": Entry("provenance.signals.toxicity:ToxicitySignal"),
    "watermark": Entry("provenance.signals.watermark:WatermarkSignal"),
    "provenance": Entry("provenance.signals.provenance:ProvenanceSignal", document=False),
}


def register(name: str, target: str | type, *, document: bool = True) -> None:
    """Add (or replace) a signal: ``target`` is its class or ``"module:Class"``."""
    REGISTRY[name] = Entry(target, document)


def unregister(name: str) -> None:
    REGISTRY.pop(name, None)


def signal_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def document_signal_names() -> tuple[str, ...]:
    """The signals the scanning pipeline scores per document, in registry order."""
    return tuple(name for name, entry in REGISTRY.items() if entry.document)


def signal_class(name: str) -> type:
    try:
        return REGISTRY[name].load()
    except KeyError:
        raise ValueError(f"unknown signal {name!r} (known: {', '.join(REGISTRY)})") from None


def build_signal(name: str, settings: Settings, **options: Any) -> Signal:
    """A new signal instance; ``options`` are the signal's own (``bundle_name``, ``model``, ``evidence``...).
    Long-lived callers go through ``SignalSet`` instead, which caches and reloads."""
    return signal_class(name).from_settings(settings, **options)

