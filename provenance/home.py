"""The data home remembers its model: ``<home>/home.toml``.

Keys, detector bundles and ledger manifests belong to one model (its tokenizer and weights). The first
command that creates any of them in a home records the model it resolved (path or hub name, and the weights'
SHA-256); later commands in that home use it when ``PROVENANCE_MODEL`` is unset, and refuse, with a message
naming both, when a set ``PROVENANCE_MODEL`` is a different model. So after ``make demo`` (which sets the
variable) every command works in a plain shell.

Light: no torch; hashing a checkpoint happens only when a set model's name differs from the recorded one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from provenance.errors import ProvenanceError

HOME_FILE = "home.toml"
_RESOLVED: dict[str, dict[str, Any]] = {}  # home -> the model this process resolved for it (not yet recorded)


@dataclass(frozen=True)
class HomeModel:
    model: str
    source: str | None
    weights_sha256: str | None


def home_file(home: Path) -> Path:
    return Path(home) / HOME_FILE


def read_home_model(home: Path) -> HomeModel | None:
    """The recorded model, or None (no file, or one this version cannot read: never fatal)."""
    try:
        data = _parse(home_file(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    model = data.get("model")
    if not isinstance(model, str) or not model:
        return None
    return HomeModel(model, data.get("source"), data.get("weights_sha256"))


def _parse(text: str) -> dict[str, Any]:
    """The flat ``key = "string"`` TOML this module writes (tomllib is not in Python 3.10's standard library;
    TOML basic strings with JSON escapes read back with json)."""
    data: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"not a key = value line: {line!r}")
        data[key.strip()] = json.loads(value.strip())
    return data


def default_model(home: Path) -> str | None:
    """What ``PROVENANCE_MODEL`` means in this home when unset: the recorded model, unless it is the home's own
    bootstrapped model (the default resolution already finds that one, and reports it as ``bootstrap``)."""
    record = read_home_model(home)
    if record is None or record.source == "bootstrap":
        return None
    return record.model


def note_resolved(home: Path, location: Any, source: str, path: Path | None) -> None:
    """Called by ``provenance.runtime`` whenever it resolves the platform's model for a home."""
    _RESOLVED[str(Path(home))] = {"model": str(path.resolve()) if path is not None and source != "hub" and
                                  source != "hub-cache" else str(location), "source": source, "path": path}


def remember_model(home: Path) -> HomeModel | None:
    """Record the model this process resolved for ``home`` in ``home.toml``, once (the first key, bundle or
    ledger entry). No-op when the file exists or no model was resolved here (e.g. a tokenizer passed in)."""
    from generator.hashing import checkpoint_sha256

    target = home_file(home)
    if target.exists():
        return read_home_model(home)
    resolved = _RESOLVED.get(str(Path(home)))
    if resolved is None:
        return None
    sha = checkpoint_sha256(resolved["path"])
    lines = ["# The model this data home's keys, detector bundles and ledger belong to (written once by provenance).",
             f"model = {json.dumps(resolved['model'])}", f"source = {json.dumps(resolved['source'])}"]
    if sha:
        lines.append(f"weights_sha256 = {json.dumps(sha)}")
    lines.append(f"recorded_at = {json.dumps(datetime.now(timezone.utc).isoformat(timespec='seconds'))}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_suffix(".toml.tmp")
    staging.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        staging.rename(target) if not target.exists() else staging.unlink()
    except OSError:
        staging.unlink(missing_ok=True)
    return read_home_model(home)


def check_model(home: Path, model: str | None) -> None:
    """Refuse a set model that is not the home's: same string, same resolved directory, or same weights pass."""
    from generator.hashing import checkpoint_sha256

    record = read_home_model(home)
    if record is None or not model or model == record.model:
        return
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        if str(candidate.resolve()) == record.model:
            return
        if record.weights_sha256 and checkpoint_sha256(candidate) == record.weights_sha256:
            return
    raise ProvenanceError(
        f"PROVENANCE_MODEL={model} is not the model this data home's keys, bundles and ledger belong to "
        f"({record.model}{', weights ' + record.weights_sha256[:12] if record.weights_sha256 else ''}; "
        f"recorded in {home_file(home)})",
        hint="unset PROVENANCE_MODEL to use the home's model, or point PROVENANCE_HOME at another data directory")
