"""Machine-text detection as a signal: a thin wrapper around ``provenance.detection.DetectionService``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from provenance.bundles import NO_BUNDLE, active_bundle_name, bundle_version
from provenance.detection import DetectionService, detection_fields
from provenance.settings import Settings
from provenance.signals.base import Availability, BaseSignal, SignalResult

if TYPE_CHECKING:  # joblib and scikit-learn load with the bundle, not with this module
    from detect.bundle import Bundle

LOW_MARGIN = 0.1  # a machine verdict this close to its threshold still goes to a reviewer
NO_BUNDLE_REASON = "no detector bundle: run provenance detect train"


@dataclass
class DetectionSignalResult(SignalResult):
    p_machine: float | None
    verdict: str
    margin: float | None = None
    detectors: dict[str, float | None] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    num_tokens: int | None = None


def _build_service(settings: Settings, **options: Any) -> DetectionService:
    return DetectionService(settings, **options)


class DetectionSignal(BaseSignal):
    """The configured bundle's ensemble; abstains (with the reason) when no bundle is trained. The one place a
    ``DetectionService`` is built (scoring here, training through ``training_service``)."""

    name = "detection"
    indexed = {"p_machine": "p_machine", "verdict": "verdict", "margin": "margin"}
    flat = {"export": ("p_machine", "verdict", "detectors"),
            "api": ("verdict", "p_machine", "margin", "detectors", "reasons", "num_tokens")}

    @classmethod
    def flat_fields(cls, records: Mapping[str, Any], view: str) -> dict[str, Any]:
        record = records.get(cls.name) or {}
        defaults = {"verdict": "abstain", "detectors": {}, "reasons": []}  # as an unscored verdict's columns
        return {key: record.get(key, defaults.get(key)) for key in cls.flat[view]}

    def __init__(self, settings: Settings, *, bundle_name: str | None = None, lm: Any = None) -> None:
        self.settings = settings
        self.bundle_name = bundle_name
        # The active bundle is read once: the version recorded and the bundle loaded (lazily) are the same one
        # even when a promotion lands between this signal's construction and its first score.
        self._loads = bundle_name if bundle_name is not None else active_bundle_name(settings)
        self._version = bundle_version(settings, self._loads)
        self._lm = lm

    @classmethod
    def stamp(cls, settings: Settings, *, bundle_name: str | None = None, lm: Any = None) -> str:
        """The bundle version: a promotion, a retrain or a new memorisation index rebuilds the signal."""
        return bundle_version(settings, bundle_name)

    @classmethod
    def review_share(cls, columns: Mapping[str, Any]) -> float:
        """Uncertain verdicts (most when P(machine) is near 0.5), then machine calls close to their threshold."""
        if columns["verdict"] == "uncertain":
            return 2.0 + (1.0 - abs((columns["p_machine"] or 0.5) - 0.5) * 2)
        if columns["verdict"] == "machine" and columns["margin"] is not None and columns["margin"] < LOW_MARGIN:
            return 1.5
        return 0.0

    @staticmethod
    def training_service(settings: Settings, *, lm: Any = None) -> DetectionService:
        """A service that trains with the configured model (``lm``: one already loaded, as the demo has)."""
        return _build_service(settings, for_training=True, lm=lm)

    @property
    def version(self) -> str:
        return self._version

    def availability(self) -> Availability:
        return Availability(True) if self._version != NO_BUNDLE else Availability(False, NO_BUNDLE_REASON)

    @cached_property
    def _service(self) -> DetectionService:
        return _build_service(self.settings, bundle_name=self._loads, lm=self._lm)

    @property
    def bundle(self) -> Bundle:
        """The loaded bundle (signature checked, scorer matched); raises ``DetectionError`` without one. The
        commands touch it first to fail before reading their input; ``detect eval`` reads its card and hashes."""
        return self._service.bundle

    def scorer_spec(self) -> str | None:
        """The scorer model this signal loads (``detect score`` guesses the generator's watermark keys by it)."""
        return self._service.scorer_spec()

    def identity(self) -> dict[str, Any] | None:
        if self._version == NO_BUNDLE:
            return None
        identity = self._service.identity
        return {"name": identity.name, "weights_sha256": identity.weights_sha256}

    def judge(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
        """``detection_fields`` per text, margins falling back to the bundle's global thresholds: what
        ``detect score`` and ``/v1/verify`` print (through ``verdict_record``) and what ``score`` stores, one
        builder for both. Raises ``DetectionError`` without a bundle (a command fails; ``score`` abstains).
        ``progress`` gets the tokens scored, as they are."""
        thresholds = getattr(self.bundle.ensemble, "thresholds", None)
        return [detection_fields(verdict, thresholds) for verdict in self._service.judge(texts, progress=progress)]

    def statistics(self, rows: Sequence[Any], progress: Callable[[int], None] | None = None) -> list[Any]:
        """Per labelled row, the scorer's statistics (cached, as in training): what ``detect eval`` measures the
        bundle's ensemble on, with this signal's scorer and cache."""
        from detect.training import score_rows

        return score_rows(self._service.scorer, rows, self._service.cache, progress=progress)

    def score(self, texts: Sequence[str]) -> list[DetectionSignalResult]:
        if self._version == NO_BUNDLE:
            return [DetectionSignalResult(None, "abstain", reasons=[NO_BUNDLE_REASON]) for _ in texts]
        return [DetectionSignalResult(p_machine=fields["p_machine"], verdict=fields["verdict"], margin=fields["margin"],
                                      detectors=fields["detectors"], reasons=fields["reasons"],
                                      num_tokens=fields["tokens"])
                for fields in self.judge(texts)]
