"""Toxicity as a signal: a thin wrapper around ``provenance.toxicity`` (its bundle, threshold and scores)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from provenance.settings import Settings
from provenance.signals.base import Availability, BaseSignal, SignalResult


@dataclass
class ToxicityResult(SignalResult):
    """``value``: ``{"p_toxic", "toxic", "categories", "note"?}``, or None when no bundle is trained; stored as
    it is."""

    value: dict[str, Any] | None

    def record(self) -> dict[str, Any] | None:
        return self.value


class ToxicitySignal(BaseSignal):
    """The configured toxicity bundle (``<home>/detectors/<toxicity_bundle>``); None per text without one. The
    one place a ``ToxicityService`` is built: scans, generation screening and the toxicity commands use it."""

    name = "toxicity"
    indexed = {"p_toxic": "p_toxic"}
    flat = {"export": ("p_toxic",), "api": ("toxicity", "p_toxic")}

    @classmethod
    def flat_fields(cls, records: Mapping[str, Any], view: str) -> dict[str, Any]:
        record = records.get(cls.name)
        p_toxic = record.get("p_toxic") if isinstance(record, dict) else None
        return {"p_toxic": p_toxic} if view == "export" else {"toxicity": record, "p_toxic": p_toxic}

    def __init__(self, settings: Settings, *, bundle_name: str | None = None) -> None:
        self.settings = settings
        self.bundle_name = bundle_name

    @classmethod
    def stamp(cls, settings: Settings, *, bundle_name: str | None = None) -> Any:
        """The bundle directory and its card's modification time: a retrained bundle rebuilds the signal."""
        from detect.errors import DetectionError
        from provenance.toxicity import toxicity_bundle_dir

        try:
            directory = toxicity_bundle_dir(settings, bundle_name)
            return (str(directory), (directory / "card.json").stat().st_mtime)
        except (DetectionError, OSError):
            return None

    @classmethod
    def review_share(cls, columns: Mapping[str, Any]) -> float:
        """Misuse first: toxic over the bundle's threshold, or machine text leaning toxic."""
        return 4.0 if columns["misuse"] else 0.0

    def loaded(self) -> ToxicitySignal | None:
        """This signal when a bundle exists, else None (generation screening skips scoring without one)."""
        return self if self.available else None

    @cached_property
    def _service(self) -> Any:
        from provenance.toxicity import ToxicityService

        return ToxicityService(self.settings, bundle_name=self.bundle_name)

    @property
    def available(self) -> bool:
        """Whether a bundle is on disk (reads its card; loads nothing)."""
        return self._service.available

    @property
    def directory(self) -> Path:
        """Where the bundle lives (or would): the demo verifies its signature before reusing it."""
        return self._service.directory

    @property
    def bundle(self) -> Any:
        """The loaded ``ToxicityBundle`` (signature checked); raises ``DetectionError`` without one. The
        commands touch it first to fail before reading input; ``eval-toxicity`` reads its threshold and hashes."""
        return self._service.bundle

    @property
    def threshold(self) -> float:
        """The scan threshold (``toxic``: flagged for review)."""
        return self._service.threshold

    @property
    def block_threshold(self) -> float:
        """The generation-blocking threshold at ``PROVENANCE_TOXICITY_BLOCK_FPR``."""
        return self._service.block_threshold

    def screen(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """Per text the full record with the blocking decision (``blocked``, ``block_reason``,
        ``block_scores``): what ``detect toxicity`` prints and what generation screening withholds by. Raises
        ``DetectionError`` without a bundle; ``score`` (scans) flags only and is None per text instead."""
        return self._service.score(list(texts), blocking=True)

    def availability(self) -> Availability:
        if self.available:
            return Availability(True)
        from provenance.toxicity import toxicity_bundle_dir

        return Availability(False, f"no toxicity bundle at {toxicity_bundle_dir(self.settings, self.bundle_name)}")

    @property
    def version(self) -> str | None:
        return self._service.version

    def score(self, texts: Sequence[str]) -> list[ToxicityResult]:
        if not self.available:
            return [ToxicityResult(None) for _ in texts]
        # Scanning flags (first stage only, no parse); blocking is the generation screen's decision.
        return [ToxicityResult(record) for record in self._service.score(list(texts), blocking=False)]
