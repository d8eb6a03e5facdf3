"""Toxicity scoring wired to settings: which bundle, and quick training of the shipped one.

The toxicity signal (``provenance.signals.toxicity``) builds the one ``ToxicityService`` per process, which
the pipeline, the API, ``provenance generate`` and the CLI reach through it: the bundle is loaded once (lazily)
and scored in memory. A missing bundle is not an error here: ``available``
says so, and callers decide (generation proceeds with ``toxicity = null`` and a one-time notice; the
``detect toxicity`` command fails with a hint).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from detect.errors import DetectionError
from detect.toxicity import (
    ToxicityBundle,
    load_toxicity_bundle,
    read_toxicity_card,
    read_toxicity_data,
    save_toxicity_bundle,
    train_toxicity_bundle,
)
from detect.toxicity.benign import BenignPassage, benign_passages, select
from provenance.settings import Settings

if TYPE_CHECKING:  # generator imports torch: scoring-only users (CLI, workers) need not pay for it
    from generator import Generation, SamplingConfig

DEFAULT_DEMO_PER_SOURCE = 3000  # `make demo`: a stratified sample per source keeps training under a minute
SCORE_BATCH = 512
TOXICITY_KIND = "toxicity-bundle"  # the kind signed into a toxicity bundle's signature.json


def toxicity_bundle_dir(settings: Settings, name: str | None = None) -> Path:
    """A bundle name (under <home>/detectors) or an explicit directory path (the detector bundles' rule)."""
    from provenance.bundles import bundle_dir

    return bundle_dir(settings, name or settings.toxicity_bundle, kind="toxicity bundle")


class ToxicityScreen(Protocol):
    """What generation screening needs from the toxicity signal (``ToxicitySignal``): the blocking decision per
    text and the thresholds and version its audit events name."""

    @property
    def threshold(self) -> float: ...

    @property
    def block_threshold(self) -> float: ...

    @property
    def version(self) -> str | None: ...

    def screen(self, texts: Sequence[str]) -> list[dict[str, Any]]: ...


class ToxicityService:
    """The configured toxicity bundle, loaded on first use."""

    def __init__(self, settings: Settings, *, bundle_name: str | None = None) -> None:
        self.settings = settings
        self.bundle_name = bundle_name

    @property
    def directory(self) -> Path:
        return toxicity_bundle_dir(self.settings, self.bundle_name)

    @property
    def available(self) -> bool:
        """True when a toxicity bundle exists at ``<home>/detectors/<settings.toxicity_bundle>``."""
        try:
            return read_toxicity_card(self.directory) is not None
        except DetectionError:
            return False

    @cached_property
    def bundle(self) -> ToxicityBundle:
        from provenance.artifact_signing import verifier

        return load_toxicity_bundle(self.directory, verify=verifier(self.settings.home, TOXICITY_KIND))

    @property
    def version(self) -> str | None:
        """``name:model-sha256[:12]`` of the bundle (for verdict records), or None without a bundle."""
        if not self.available:
            return None
        return self.bundle.version

    @property
    def threshold(self) -> float:
        """The scan threshold: ``toxic`` (flag for review) at ``PROVENANCE_TOXICITY_TARGET_FPR``."""
        return float(self.bundle.model.threshold)

    @property
    def block_categories(self) -> list[str]:
        """``PROVENANCE_TOXICITY_BLOCK_CATEGORIES``: the categories that withhold a generation."""
        return list(self.settings.toxicity_block_categories)

    def block_thresholds(self) -> dict[str, float]:
        """Per blocking category, its threshold at ``PROVENANCE_TOXICITY_BLOCK_FPR`` (empty for bundles without a
        blocking stage, which block on ``block_threshold``)."""
        stage = getattr(self.bundle.model, "blocking", None)
        if stage is None:
            return {}
        return {name: round(stage.threshold_for(name, self.settings.toxicity_block_fpr), 6)
                for name in self.block_categories}

    @property
    def block_threshold(self) -> float:
        """The generation-blocking threshold at ``PROVENANCE_TOXICITY_BLOCK_FPR`` (recomputed from the bundle's
        out-of-fold benign scores when the setting differs from the one trained; never below the scan
        threshold; older bundles without benign scores block at the scan threshold)."""
        return float(self.bundle.model.blocking_threshold(self.settings.toxicity_block_fpr))

    def score(self, texts: Sequence[str], *, blocking: bool = True) -> list[dict[str, Any]]:
        """Per text ``{"p_toxic", "toxic", "categories", "note", "blocked", "block_reason"}``; raises
        DetectionError without a bundle. ``toxic`` is the scan flag (every category, for review); ``blocked``
        means a category in ``PROVENANCE_TOXICITY_BLOCK_CATEGORIES`` reached its own threshold, and
        ``block_reason`` says which (``{"category", "score", "threshold"}``, else None) and ``block_scores``
        holds each category's score. ``blocking=False`` is the scan policy (flag only): the first stage alone,
        no parse, ``blocked`` None; it scores as fast as bundles without a blocking stage."""
        results: list[dict[str, Any]] = []
        items = list(texts)
        block = self.block_threshold
        for start in range(0, len(items), SCORE_BATCH):
            batch = self.bundle.model.score(items[start:start + SCORE_BATCH], block_threshold=block,
                                            block_categories=self.block_categories,
                                            block_fpr=self.settings.toxicity_block_fpr, blocking=blocking)
            for score in batch:
                record = score.as_dict()
                if blocking and score.block_scores:
                    record["block_scores"] = {k: round(v, 6) for k, v in score.block_scores.items()}
                results.append(record)
        return results


def benign_calibration_passages(files: Sequence[Path]) -> list[BenignPassage]:
    """Benign passages of many genres from the shared tree the data files live in (``<shared>/data/toxicity``
    beside ``<shared>/corpus`` and ``<shared>/data/detect``); empty when there is none."""
    for path in files:
        path = Path(path).resolve()
        shared = (path if path.is_dir() else path.parent).parent.parent
        if (shared / "corpus").is_dir():
            return benign_passages(shared)
    return []


def train_default_toxicity(settings: Settings, data_paths: Sequence[Path], *, name: str | None = None,
                           console: Any = None, max_per_source: int | None = DEFAULT_DEMO_PER_SOURCE,
                           folds: int = 3, seed: int = 0, target_fpr: float | None = None) -> Path:
    """Train the shipped toxicity bundle quickly (``make demo``: a sample per source, 3 folds; < 1 min on 2
    cores) and save it under ``<home>/detectors/<name or settings.toxicity_bundle>``. ``data_paths`` may hold
    JSONL files or directories of them."""
    from provenance.data_files import jsonl_files

    files = jsonl_files(data_paths)
    if not files:
        raise DetectionError("no toxicity data files given",
                             hint="pass JSONL files of {text, label: toxic|non_toxic, categories?, source?}")
    say: Callable[[str], None] = (lambda message: console.print(message, highlight=False)) if console else (
        lambda message: None)
    data = read_toxicity_data(files, max_per_source=max_per_source, seed=seed)
    say(f"toxicity: training on {len(data.rows):,} texts from {len(data.summary()['sources'])} sources")
    benign = benign_calibration_passages(files)
    say(f"toxicity: calibrating blocking thresholds on {len(select(benign, 'calibrate')):,} benign passages"
        if benign else "toxicity: no benign corpus beside the data: blocking thresholds come from non-toxic rows")
    bundle_name = name or settings.toxicity_bundle
    bundle = train_toxicity_bundle(data, name=Path(bundle_name).name, seed=seed, folds=folds,
                                   target_fpr=target_fpr or settings.toxicity_target_fpr,
                                   block_fpr=settings.toxicity_block_fpr, stage=say, benign=benign)
    from provenance.artifact_signing import sealer

    return save_toxicity_bundle(bundle, toxicity_bundle_dir(settings, bundle_name),
                                seal=sealer(settings.home, TOXICITY_KIND))


# --- Generation side: score every output; withhold (or regenerate) toxic ones, never silently. -------------

_NOTICES_SHOWN: set[str] = set()


def notice_once(message: str, notice: Callable[[str], None] | None) -> None:
    """Say ``message`` once per process (generation without a bundle must not nag on every call)."""
    if message in _NOTICES_SHOWN:
        return
    _NOTICES_SHOWN.add(message)
    if notice is not None:
        notice(message)
    else:
        import logging

        logging.getLogger("provenance.toxicity").warning(message)


@dataclass
class ScreenedOutput:
    """The output to stamp (the last attempt), its toxicity, and the toxic attempts that were discarded."""

    generation: Generation
    toxicity: dict[str, Any] | None
    withheld: bool = False
    regenerations: int = 0
    discarded: list[dict[str, Any]] = field(default_factory=list)
    seed: int | None = None  # the sampling seed of the last attempt (the manifest must name what was used)


def screen_generations(settings: Settings, generations: Sequence[Generation], sampling: SamplingConfig, *,
                       regenerate: Callable[[list[str], SamplingConfig], list[Generation]],
                       service: ToxicityScreen | None = None,
                       notice: Callable[[str], None] | None = None) -> list[ScreenedOutput]:
    """Score each continuation; per ``settings.toxicity_on_generation``: ``withhold`` marks blocked outputs
    withheld, ``regenerate`` samples blocked ones again (new seed, up to ``toxicity_max_regenerations`` times)
    and withholds what is still blocked, ``off`` skips scoring (toxicity None). Without a bundle (``service``
    None: ``ToxicitySignal.loaded()`` found none): toxicity None and a one-time notice. "Blocked" means a
    category in ``PROVENANCE_TOXICITY_BLOCK_CATEGORIES`` (default hate and threat) reached its own threshold,
    calibrated to ``PROVENANCE_TOXICITY_BLOCK_FPR`` (default 0.5%) on benign text of many genres; profanity and
    insults are flagged ``toxic`` for review but released unless the operator lists ``offensive``.
    ``block_reason`` says which category blocked."""
    mode = settings.toxicity_on_generation
    outputs = [ScreenedOutput(generation, None) for generation in generations]
    if mode == "off" or not outputs:
        return outputs
    if service is None:  # the caller resolves the signal (``generate_stamped``): this module imports no signal
        notice_once(f"no toxicity bundle at {toxicity_bundle_dir(settings)}: generated text is not screened for "
                    "toxicity (train one: provenance detect train-toxicity DATA.jsonl --out "
                    f"{settings.toxicity_bundle})", notice)
        return outputs
    for output, result in zip(outputs, service.screen([g.text for g in generations]), strict=True):
        output.toxicity = _public(result)
    retries = settings.toxicity_max_regenerations if mode == "regenerate" and sampling.do_sample else 0
    for attempt in range(1, retries + 1):
        pending = [o for o in outputs if o.toxicity and o.toxicity["blocked"]]
        if not pending:
            break
        seed = None if sampling.seed is None else sampling.seed + 7919 * attempt
        fresh = regenerate([o.generation.prompt for o in pending], replace(sampling, seed=seed))
        results = service.screen([g.text for g in fresh])
        for output, generation, result in zip(pending, fresh, results, strict=True):
            output.discarded.append(_event("regenerated", output.generation, output.toxicity, service))
            output.generation, output.toxicity = generation, _public(result)
            output.regenerations, output.seed = attempt, seed
    for output in outputs:
        output.withheld = bool(output.toxicity and output.toxicity["blocked"])
    return outputs


def withheld_event(output: ScreenedOutput, service: ToxicityScreen | None, **extra: Any) -> dict[str, Any]:
    """The audit record of a withheld output (``extra``: manifest id, requester, model...)."""
    return {**_event("withheld", output.generation, output.toxicity, service),
            "regenerations": output.regenerations, **extra}


def _public(result: dict[str, Any]) -> dict[str, Any]:
    """The generation contract: ``{p_toxic, toxic, categories, blocked}`` (plus ``note`` only when there is
    one, and ``block_reason`` ``{category, score, threshold}`` when blocked)."""
    public = {"p_toxic": result["p_toxic"], "toxic": result["toxic"], "categories": result["categories"],
              "blocked": result["blocked"]}
    if result.get("note"):
        public["note"] = result["note"]
    if result.get("blocked") and result.get("block_reason"):
        public["block_reason"] = result["block_reason"]
    return public


def _event(action: str, generation: Generation, toxicity: dict[str, Any] | None,
           service: ToxicityScreen | None) -> dict[str, Any]:
    block_reason = (toxicity or {}).get("block_reason")
    reason = (f"{block_reason['category']} score {block_reason['score']} at or over its blocking threshold "
              f"{block_reason['threshold']}" if block_reason else "toxicity over the blocking threshold")
    return {"event": "toxic_generation", "action": action, "reason": reason, "block_reason": block_reason,
            "p_toxic": (toxicity or {}).get("p_toxic"), "categories": (toxicity or {}).get("categories", []),
            "threshold": block_reason["threshold"] if block_reason else (
                round(service.block_threshold, 4) if service is not None else None),
            "scan_threshold": round(service.threshold, 4) if service is not None else None,
            "toxicity_version": service.version if service is not None else None,
            "prompt_sha256": hashlib.sha256(generation.prompt.encode("utf-8")).hexdigest(),
            "text_sha256": hashlib.sha256(generation.text.encode("utf-8")).hexdigest(),
            "tokens": generation.tokens}
