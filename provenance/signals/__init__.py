"""The signal layer: every judgement the platform makes about a text (watermark, machine-text detection, PII,
toxicity, provenance in the ledger) behind one ``Signal`` interface, built from ``Settings`` by one factory.

The CLI, the API, the scanning pipeline and the dashboard obtain signals only from ``build_signal`` /
``build_signals``; each signal's model, keys or bundle is constructed in exactly one module here. Importing
this package loads no model library: each signal imports what it needs when it first scores.
"""

from provenance.signals.base import Availability, Signal, SignalResult
from provenance.signals.factory import DOCUMENT_SIGNALS, SIGNAL_NAMES, build_signal, build_signals

__all__ = ["DOCUMENT_SIGNALS", "SIGNAL_NAMES", "Availability", "Signal", "SignalResult", "build_signal",
           "build_signals"]
