"""One ``SignalSet`` per process: the only place signals are built, cached and rebuilt.

Every judgement the CLI, the API, the scanning workers, the generation screen and the dashboard make goes
through ``signal_set(settings)``. A signal is built once per (name, options) and reused, so each model, bundle
and key is loaded once per process. Before it is handed out again, its cheap ``stamp`` (a card digest, the
active bundle's name) is compared with the one it was built under: a promoted detector bundle or a retrained
toxicity bundle reaches a long-lived worker or API process without a restart.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from typing import Any

from provenance.settings import Settings
from provenance.signals.base import Signal
from provenance.signals.registry import document_signal_names, signal_class

_Key = tuple[str, tuple[tuple[str, Any], ...]]


class SignalSet:
    """The signals of one configuration. ``get(name, **options)`` returns the cached signal (rebuilt when its
    stamp moved); ``document_signals()`` those the pipeline scores per document; ``versions()`` what each
    would record with a verdict."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[_Key, tuple[Any, Signal]] = {}
        self._since_check: dict[_Key, int] = {}
        self._lock = threading.RLock()
        # How often ``get`` compares a cached signal's stamp with the active one: every call (a worker asks once
        # per chunk, the CLI once), or every Nth call in a process that asks per request (the API sets this).
        self.check_every = 1

    def get(self, name: str, **options: Any) -> Signal:
        cls = signal_class(name)
        key = (name, tuple(sorted((option, _hashable(value)) for option, value in options.items())))
        with self._lock:
            cached = self._built.get(key)
            if cached is not None and self.check_every > 1:
                calls = self._since_check.get(key, 0) + 1
                if calls < self.check_every:
                    self._since_check[key] = calls
                    return cached[1]
        stamp = cls.stamp(self.settings, **options)
        with self._lock:
            self._since_check[key] = 0
            cached = self._built.get(key)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            signal = cls.from_settings(self.settings, **options)
            self._built[key] = (stamp, signal)
            return signal

    def document_signals(self, names: Iterable[str] | None = None,
                         options: dict[str, dict[str, Any]] | None = None) -> dict[str, Signal]:
        """Signals in scoring order (registry order unless ``names`` says otherwise)."""
        chosen = tuple(names) if names is not None else document_signal_names()
        return {name: self.get(name, **(options or {}).get(name, {})) for name in chosen}

    def versions(self, names: Iterable[str] | None = None,
                 options: dict[str, dict[str, Any]] | None = None) -> dict[str, str | None]:
        return {name: signal.version for name, signal in self.document_signals(names, options).items()}

    def clear(self) -> None:
        """Forget every built signal (tests; a settings change)."""
        with self._lock:
            self._built.clear()
            self._since_check.clear()


def _hashable(value: Any) -> Any:
    """An option's cache key: the value itself, or (a loaded model, a tokenizer) its identity."""
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return value


_SETS: dict[str, SignalSet] = {}
_SETS_LOCK = threading.Lock()
MAX_SETS = 4  # a process serves one configuration; a test run many (each set holds loaded models)


def _plain(value: Any) -> str:
    reveal = getattr(value, "get_secret_value", None)  # two settings differing only in a secret differ
    return reveal() if callable(reveal) else str(value)


_KEYS: dict[int, tuple[int, dict[str, Any], str]] = {}  # id(settings) -> (pid, its fields then, its key)


def _set_key(settings: Settings) -> str:
    """The set's key for ``settings``: its values as JSON, with the process id. Dumping the settings costs
    about 80 microseconds, and an API verification asks for the set twice, so the key is kept per settings
    object and reused while the object's fields still equal the ones it was computed from (a changed field, or
    another object that got the same id, computes a new one)."""
    pid = os.getpid()
    fields = settings.__dict__
    cached = _KEYS.get(id(settings))
    if cached is not None and cached[0] == pid and cached[1] == fields:
        return cached[2]
    key = f"{pid}:" + json.dumps(settings.model_dump(), sort_keys=True, default=_plain)
    if len(_KEYS) >= 64:  # a test run makes many settings objects; a server a handful
        _KEYS.clear()
    _KEYS[id(settings)] = (pid, dict(fields), key)
    return key


def signal_set(settings: Settings) -> SignalSet:
    """The process's ``SignalSet`` for this configuration (settings compared by value). Keyed by process id
    too: a forked worker builds its own models instead of sharing its parent's."""
    key = _set_key(settings)
    with _SETS_LOCK:
        found = _SETS.pop(key, None) or SignalSet(settings)
        _SETS[key] = found  # most recently used last
        while len(_SETS) > MAX_SETS:
            _SETS.pop(next(iter(_SETS)))
        return found
