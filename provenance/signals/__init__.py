"""The signal layer: every judgement the platform makes about a text (watermark, machine-text detection, PII,
toxicity, provenance in the ledger) behind one ``Signal`` interface, listed in one registry and built by one
``SignalSet`` per process.

The CLI, the API, the scanning pipeline, the generation screen and the dashboard obtain signals only from
``signal_set(settings).get(name)``; each signal's model, keys or bundle is constructed in exactly one module
here. Importing this package loads no model library: each signal imports what it needs when it first scores.
"""

from provenance.signals.base import VIEWS, Availability, BaseSignal, Signal, SignalResult
from provenance.signals.registry import (
    REGISTRY,
    build_signal,
    document_signal_names,
    register,
    signal_class,
    signal_names,
    unregister,
)
from provenance.signals.signal_set import SignalSet, signal_set

__all__ = ["REGISTRY", "VIEWS", "Availability", "BaseSignal", "Signal", "SignalResult", "SignalSet", "build_signal",
           "document_signal_names", "register", "signal_class", "signal_names", "signal_set", "unregister"]


def __getattr__(name: str) -> object:
    """``SIGNAL_NAMES`` / ``DOCUMENT_SIGNALS``: the registry's names now (a registered signal counts)."""
    if name == "SIGNAL_NAMES":
        return signal_names()
    if name == "DOCUMENT_SIGNALS":
        return document_signal_names()
    raise AttributeError(name)
