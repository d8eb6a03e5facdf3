"""A small scan of invented texts through the real pipeline (in-process chunks, the trained micro bundle, a
watermark key, Presidio PII and a registered toy signal), for the verdict read-view contract tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from provenance.settings import Settings
from provenance.signals import BaseSignal, SignalResult

SCAN_TEXTS = [
    "Please write to Orla Finchley at orla.finchley@example.org about the invented harbour survey next week.",
    "The invented orchard cooperative met on Tuesday; the minutes say the cider press needs a new gasket.",
    "Call the front desk of the invented Bramblewick Inn at +1 202 555 0143 before nine in the morning.",
]


@dataclass
class LetterResult(SignalResult):
    letters: int


class LetterSignal(BaseSignal):
    """A toy registered signal (letters per text): its record must reach every view under ``signals``."""

    name = "letters"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def version(self) -> str:
        return "letters:1"

    def score(self, texts: Sequence[str]) -> list[LetterResult]:
        return [LetterResult(sum(c.isalpha() for c in text)) for text in texts]


def run_scan(home: Path, model_dir: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, str, list[int]]:
    """Scan ``SCAN_TEXTS`` into the store at ``url`` (migrated); returns settings, job id and verdict ids."""
    from provenance.pipeline import processing, submission
    from provenance.store import VerdictRow, session_scope, upgrade
    from tests.provenance.api_support import api_settings_for, prepare_home

    upgrade(url)
    monkeypatch.setenv("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    settings = api_settings_for(home, model_dir, database_url=url, scan_chunk_size=8)
    prepare_home(settings)
    source = home.parent / "scan-views.jsonl"
    source.write_text("".join(json.dumps({"id": f"doc-{i}", "text": t}) + "\n" for i, t in enumerate(SCAN_TEXTS)))
    sent: list[int] = []
    monkeypatch.setattr(submission, "send_chunk", lambda _settings, chunk_id: sent.append(chunk_id))
    job = submission.submit_paths(settings, [source])
    for chunk_id in sent:
        processing.process_chunk(settings, chunk_id)
    with session_scope(url) as session:
        ids = sorted(session.scalars(VerdictRow.__table__.select().with_only_columns(VerdictRow.__table__.c.id)))
    return settings, job, list(ids)


RUN_DEPENDENT = {"created_at", "job_id"}  # a new job id and timestamp each run


def shape(value: Any) -> Any:
    """Keys and value types only (model scores, bundle digests and key ids change with every trained micro
    model; the legacy-rows contract pins the values)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__
