"""Detection wired to settings: which scorer, which bundle, where the statistics cache lives.

The CLI, the Celery workers and the API build one ``DetectionService`` per process and reuse it: the scorer
model is loaded once, the bundle is checked against it once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from detect.bundle import Bundle, ScorerIdentity, load_bundle, read_card, save_bundle
from detect.cache import StatisticsCache
from detect.ensemble import Verdict
from detect.errors import DetectionError
from detect.memorisation import MemorisationGuard
from detect.perplexity import PerplexityScorer
from detect.scoring import judge_texts
from detect.training import PreparedData, train_bundle
from provenance.runtime import load_configured_model
from provenance.settings import Settings

SAFE_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def bundle_dir(settings: Settings, name: str | None = None) -> Path:
    """A bundle name (under <home>/detectors) or an explicit directory path."""
    name = name or settings.detector_bundle
    if "/" in name or name.startswith("."):
        return Path(name).expanduser().resolve()
    if not set(name) <= SAFE_NAME_CHARS:
        raise DetectionError(f"bundle name {name!r} has unsupported characters",
                             hint="use letters, digits, '-', '_' and '.', or pass a directory path")
    return settings.detectors_dir / name


class DetectionService:
    """Scorer + statistics cache + (lazily) the configured bundle."""

    def __init__(self, settings: Settings, *, bundle_name: str | None = None) -> None:
        self.settings = settings
        self.bundle_name = bundle_name

    @cached_property
    def scorer(self) -> PerplexityScorer:
        return self._build_scorer(load_configured_model(self.settings, self.scorer_spec()))

    def _build_scorer(self, lm: Any, *, for_training: bool = False) -> PerplexityScorer:
        """torch or ONNX Runtime, fp32 or int8, as PROVENANCE_SCORER_BACKEND / _SCORER_QUANTIZE say."""
        from detect.onnx_scorer import build_scorer

        return build_scorer(lm, backend=self.settings.scorer_backend, quantize=self._quantize(for_training),
                            batch_tokens=self.settings.detect_batch_tokens,
                            cache_root=self.settings.home / "cache" / "onnx")

    def _quantize(self, for_training: bool = False) -> str:
        """PROVENANCE_SCORER_QUANTIZE; ``auto`` follows the bundle's recorded precision when a bundle exists
        (a bundle only works with the statistics it was trained on), else int8 on CPU (build_scorer)."""
        setting = self.settings.scorer_quantize
        if setting != "auto" or for_training:
            return setting
        card = read_card(bundle_dir(self.settings, self.bundle_name)) or {}
        statistics = str((card.get("scorer") or {}).get("statistics") or "")
        if "|q=none|" in statistics:
            return "none"
        return "int8" if "|q=int8|" in statistics else "auto"

    def scorer_spec(self, *, for_training: bool = False) -> str | None:
        """PROVENANCE_SCORER_MODEL, else PROVENANCE_MODEL, else (scoring) the scorer the bundle was trained
        with, when it is still on disk, else the platform's default model resolution."""
        explicit = self.settings.scorer_model or self.settings.model
        if explicit or for_training:
            return explicit
        card = read_card(bundle_dir(self.settings, self.bundle_name))
        location = ((card or {}).get("scorer") or {}).get("location")
        if location and Path(location).is_dir():
            return location
        return None

    @cached_property
    def cache(self) -> StatisticsCache:
        return StatisticsCache(self.settings.home / "cache" / "perplexity-stats.sqlite")

    @cached_property
    def identity(self) -> ScorerIdentity:
        return ScorerIdentity.of(self.scorer)

    @cached_property
    def bundle(self) -> Bundle:
        bundle = load_bundle(bundle_dir(self.settings, self.bundle_name))
        bundle.check_scorer(self.identity)
        return bundle

    @cached_property
    def guard(self) -> MemorisationGuard:
        """The scorer's training-text index (beside the model, or built into the home), if there is one."""
        lm = self.scorer.lm
        return MemorisationGuard.for_scorer(lm.path, lm.weights_sha256, self.settings.home)

    def judge(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[Verdict]:
        return judge_texts(self.scorer, self.bundle, texts, cache=self.cache, progress=progress, guard=self.guard)

    def train(self, name: str, data: PreparedData, *, target_fpr: float | None = None, seed: int = 0,
              progress: Callable[[int], None] | None = None,
              stage: Callable[[str], None] | None = None) -> Bundle:
        if "scorer" not in self.__dict__:
            lm = load_configured_model(self.settings, self.scorer_spec(for_training=True))
            self.__dict__["scorer"] = self._build_scorer(lm, for_training=True)
        bundle = train_bundle(name, self.scorer, data, cache=self.cache,
                              target_fpr=target_fpr or self.settings.detect_target_fpr, seed=seed,
                              progress=progress, stage=stage)
        save_bundle(bundle, bundle_dir(self.settings, name))
        return bundle


def verdict_record(record_id: Any, verdict: Verdict, watermark: dict[str, Any] | None = None) -> dict[str, Any]:
    """The contract line of ``provenance detect score`` (id, p_machine, verdict, detectors) plus extras."""
    record: dict[str, Any] = {
        "id": record_id,
        "p_machine": None if verdict.p_machine is None else round(float(verdict.p_machine), 6),
        "verdict": verdict.verdict,
        "detectors": {name: None if value is None else round(float(value), 6)
                      for name, value in verdict.detectors.items()},
        "reasons": verdict.reasons,
        "tokens": verdict.diagnostics.get("tokens"),
    }
    if watermark is not None:
        record["watermark"] = watermark
    return record
