"""Importing a bundle made by another installation (``provenance detect import-bundle``): the one audited way a
pickle this installation did not write becomes loadable here.

Bundles are pickles and loading one runs code, so the platform loads only bundles signed with its own key
(``provenance.artifact_signing``). A bundle trained elsewhere carries no signature this installation accepts;
an operator who trusts it imports it: its card must describe it (kind, format, the pickle's SHA-256 on the
card), its files are copied (regular files only) into ``<home>/detectors/NAME`` next to nothing else, signed
here before the copy becomes visible, and the import is audited with every file's SHA-256 and the operator's
name, so a later question "where did this bundle come from" has an answer.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from provenance.artifact_signing import file_digests, sign_directory
from provenance.errors import ProvenanceError
from provenance.settings import Settings

KINDS = {"detector": ("detector-bundle", "ensemble.joblib", "ensemble_sha256"),
         "toxicity": ("toxicity-bundle", "model.joblib", "model_sha256")}


def _kind_of(card: dict[str, Any]) -> str:
    return "toxicity" if card.get("kind") == "toxicity" else "detector"


def import_bundle(settings: Settings, source: Path, name: str, *, actor: str = "cli") -> dict[str, Any]:
    """Copy the bundle at ``source`` into this installation as ``name``, signed here, audited; returns what
    was imported (kind, files and their SHA-256). Nothing is unpickled."""
    from detect.bundle import verify_file_hash, write_directory_atomically
    from detect.errors import DetectionError
    from provenance.bundles import bundle_dir
    from provenance.store import ensure_schema, session_scope
    from provenance.store.audit import audit

    source = source.expanduser()
    try:
        card = json.loads((source / "card.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProvenanceError(f"no readable bundle card at {source / 'card.json'}: {exc}",
                              hint="pass the bundle's directory (it holds card.json and the .joblib file)") from None
    if not isinstance(card, dict):
        raise ProvenanceError(f"{source / 'card.json'} is not a bundle card")
    kind = _kind_of(card)
    signed_kind, model_file, hash_field = KINDS[kind]
    try:
        verify_file_hash(source / model_file, card.get(hash_field), hash_field)  # consistent, not trusted
    except DetectionError as exc:
        raise ProvenanceError(str(exc), hint=exc.hint) from None
    if "/" in name or name.startswith("."):
        raise ProvenanceError(f"--name {name!r} must be a plain bundle name", hint="e.g. --name partner-v3")
    target = bundle_dir(settings, name, kind=f"{kind} bundle")
    if target.exists():
        raise ProvenanceError(f"a bundle named {name!r} already exists at {target}",
                              hint="choose another --name (bundles are never overwritten by an import)")
    try:
        audited = file_digests(source)  # regular files only (a symlink or special file is refused)
    except ProvenanceError as exc:
        raise ProvenanceError(str(exc), hint="a bundle directory holds regular files only") from None
    if any("/" in file_name for file_name in audited):
        raise ProvenanceError(f"{source} holds sub-folders", hint="a bundle directory holds its files only")

    def write(staging: Path) -> None:
        for file_name in audited:
            shutil.copyfile(source / file_name, staging / file_name, follow_symlinks=False)
        if file_digests(staging) != audited:  # what is signed and loaded is exactly what was audited
            raise ProvenanceError(f"{source} changed while it was being imported", hint="import it again")
        verify_file_hash(staging / model_file, card.get(hash_field), hash_field)
        sign_directory(settings.home, staging, signed_kind)

    record = {"kind": signed_kind, "name": name, "source": str(source.resolve()), "card_name": card.get("name"),
              "files": audited, "directory": str(target)}
    ensure_schema(settings.resolved_database_url)
    written = False
    try:
        with session_scope(settings.resolved_database_url) as session:
            audit(session, actor=actor, action="detect.import_bundle", subject_type="bundle", subject_id=name,
                  details={key: record[key] for key in ("kind", "source", "card_name", "files")})
            session.flush()  # a database failure surfaces before anything is written
            write_directory_atomically(target, write)
            written = True
    except BaseException:
        if written:  # the commit failed: no unaudited bundle stays behind
            shutil.rmtree(target, ignore_errors=True)
        raise
    return record
