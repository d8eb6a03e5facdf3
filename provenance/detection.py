"""Detection wired to settings: which scorer, which bundle, where the statistics cache lives.

The CLI, the Celery workers and the API build one ``DetectionService`` per process and reuse it: the scorer
model is loaded once, the bundle is checked against it once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provenance.bundles import DETECTOR_KIND, ONNX_KIND, bundle_dir, read_bundle_card
from provenance.runtime import load_configured_model
from provenance.settings import Settings

if TYPE_CHECKING:  # scikit-learn, joblib and torch load with the scorer or bundle, not with this module
    from detect.bundle import Bundle, ScorerIdentity
    from detect.cache import StatisticsCache
    from detect.ensemble import Verdict
    from detect.perplexity import PerplexityScorer
    from detect.training import PreparedData

class DetectionService:
    """Scorer + statistics cache + (lazily) the configured bundle."""

    def __init__(self, settings: Settings, *, bundle_name: str | None = None, for_training: bool = False,
                 lm: Any = None) -> None:
        """``lm``: an already loaded model to score with (the demo has one), instead of loading the scorer."""
        self.settings = settings
        self.bundle_name = bundle_name
        self.for_training = for_training
        self._lm = lm

    @cached_property
    def scorer(self) -> PerplexityScorer:
        """Loaded on first use; a service that trains (or was built to train) never falls back to a bundle's
        recorded scorer, because the bundle it writes must match the configured model."""
        if self._lm is not None:
            # build_scorer quantizes in place, and the caller's model also generates: score with a private
            # copy, so the demo uses the same default (int8 on CPU) scorer as every scan worker.
            import copy

            clone = copy.copy(self._lm)
            clone.model = copy.deepcopy(self._lm.model)
            return self._build_scorer(clone, for_training=self.for_training)
        spec = self.scorer_spec(for_training=self.for_training)
        return self._build_scorer(load_configured_model(self.settings, spec), for_training=self.for_training)

    def _build_scorer(self, lm: Any, *, for_training: bool = False) -> PerplexityScorer:
        """torch or ONNX Runtime, fp32 or int8, as PROVENANCE_SCORER_BACKEND / _SCORER_QUANTIZE say."""
        from detect.onnx_scorer import build_scorer
        from provenance.artifact_signing import sealer, verifier

        # The ONNX export cache is signed like bundles: a graph swapped in the cache is never run.
        return build_scorer(lm, backend=self.settings.scorer_backend, quantize=self._quantize(for_training),
                            batch_tokens=self.settings.detect_batch_tokens,
                            cache_root=self.settings.home / "cache" / "onnx",
                            seal=sealer(self.settings.home, ONNX_KIND),
                            verify=verifier(self.settings.home, ONNX_KIND,
                                            hint="delete the folder to re-export it from the current model"))

    def _quantize(self, for_training: bool = False) -> str:
        """PROVENANCE_SCORER_QUANTIZE; ``auto`` follows the bundle's recorded precision when a bundle exists
        (a bundle only works with the statistics it was trained on), else int8 on CPU (build_scorer)."""
        setting = self.settings.scorer_quantize
        if setting != "auto" or for_training:
            return setting
        card = read_bundle_card(bundle_dir(self.settings, self.bundle_name)) or {}
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
        card = read_bundle_card(bundle_dir(self.settings, self.bundle_name))
        location = ((card or {}).get("scorer") or {}).get("location")
        if location and Path(location).is_dir():
            return location
        return None

    @cached_property
    def cache(self) -> StatisticsCache:
        from detect.cache import StatisticsCache

        return StatisticsCache(self.settings.home / "cache" / "perplexity-stats.sqlite")

    @cached_property
    def identity(self) -> ScorerIdentity:
        from detect.bundle import ScorerIdentity

        return ScorerIdentity.of(self.scorer)

    @cached_property
    def bundle(self) -> Bundle:
        from detect.bundle import load_bundle
        from provenance.artifact_signing import verifier

        # The signature (this installation's key, every file) is checked before anything is unpickled.
        bundle = load_bundle(bundle_dir(self.settings, self.bundle_name),
                             verify=verifier(self.settings.home, DETECTOR_KIND))
        bundle.check_scorer(self.identity)
        return bundle

    @cached_property
    def guard(self) -> Any:
        """A ``detect.memorisation.MemorisationGuard``: the scorer's training-text index (beside the model, or
        built into the home by ``provenance model memorisation-index`` / ``make demo``), if there is one,
        verified against this installation's signature and its card first (a changed, badly signed or saturated
        index raises ``DetectionError``, never used; an unsigned one is skipped with a warning)."""
        from detect.memorisation import MemorisationGuard
        from provenance.artifact_signing import index_verifier

        lm = self.scorer.lm
        return MemorisationGuard.for_scorer(lm.path, lm.weights_sha256, self.settings.home,
                                            verify=index_verifier(self.settings.home))

    def judge(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[Verdict]:
        from detect.scoring import judge_texts

        return judge_texts(self.scorer, self.bundle, texts, cache=self.cache, progress=progress, guard=self.guard)

    def train(self, name: str, data: PreparedData, *, target_fpr: float | None = None, seed: int = 0,
              progress: Callable[[int], None] | None = None,
              stage: Callable[[str], None] | None = None, sampled_from: str | None = None,
              sampled_per_setting: int = 150, sampled_tokens: int = 160, stacker: str | None = None) -> Bundle:
        """``sampled_from``: a model that writes pure and nucleus continuations of the data's human prefixes into
        the training set (``detect.training.with_sampled_text``); recorded in the card."""
        from detect.bundle import save_bundle
        from detect.training import train_bundle, with_sampled_text

        self.for_training = True  # before the scorer loads: train with the configured model, not a bundle's
        sampled_text = None
        if sampled_from:
            if stage:
                stage(f"writing sampled text with {sampled_from}")
            writer = load_configured_model(self.settings.model_copy(update={"quantize": "none", "adapter": None}),
                                           sampled_from)
            data, sampled_text = with_sampled_text(data, writer, per_setting=sampled_per_setting,
                                                   new_tokens=sampled_tokens, seed=seed)
        bundle = train_bundle(name, self.scorer, data, cache=self.cache,
                              target_fpr=target_fpr or self.settings.detect_target_fpr, seed=seed,
                              progress=progress, stage=stage, sampled_text=sampled_text,
                              **({"stacker": stacker} if stacker else {}))
        from provenance.artifact_signing import sealer

        save_bundle(bundle, bundle_dir(self.settings, name), seal=sealer(self.settings.home, DETECTOR_KIND))
        from provenance.home import remember_model

        remember_model(self.settings.home)
        return bundle


def margin(p_machine: float | None, thresholds: Any) -> float | None:
    """Distance from P(machine) to the nearer threshold: a machine call this close still goes to a reviewer."""
    if p_machine is None or thresholds is None:
        return None
    return round(min(abs(p_machine - thresholds.machine), abs(p_machine - thresholds.human)), 6)


def detection_fields(verdict: Verdict, thresholds: Any = None) -> dict[str, Any]:
    """One verdict as JSON-ready fields (p_machine, verdict, margin, detectors, reasons, tokens), rounded once.

    The single builder behind ``verdict_record`` and ``DetectionSignal.score``, so the CLI/API line and the stored
    signal result cannot drift apart. ``thresholds`` (the bundle's global ones) is the fallback for a verdict that
    does not carry the thresholds that judged it."""
    return {
        "p_machine": None if verdict.p_machine is None else round(float(verdict.p_machine), 6),
        "verdict": verdict.verdict,
        "margin": margin(verdict.p_machine, verdict.thresholds or thresholds),  # its routed domain's, if any
        "detectors": {name: None if value is None else round(float(value), 6)
                      for name, value in verdict.detectors.items()},
        "reasons": list(verdict.reasons),
        "tokens": verdict.diagnostics.get("tokens"),
    }


def verdict_record(record_id: Any, fields: Mapping[str, Any],
                   watermark: dict[str, Any] | None = None) -> dict[str, Any]:
    """The contract line of ``provenance detect score`` (id, p_machine, verdict, detectors) plus extras, from
    ``detection_fields`` (as ``DetectionSignal.judge`` returns them): the line only adds the id and the
    watermark, so it holds the same margin the stored signal result does."""
    record: dict[str, Any] = {"id": record_id, **fields}
    if watermark is not None:
        record["watermark"] = watermark
    return record
