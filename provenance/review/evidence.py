"""Why an item is in the queue and what each of its flags rests on, read from stored data only.

A reviewer who sees "priority 5.700", "misuse" or "z = 3.54" must be able to tell what produced it without
reading code: the priority's parts (each registered signal's declared ``review_share``), the toxicity score,
categories and the threshold behind a misuse flag (and which of the two misuse rules fired), the rule the
watermark was decided by, and every detector statistic placed against where human text falls. Nothing is
recomputed by a model: the parts are the stored columns put through the same functions the pipeline used, and
thresholds and ranges come from the cards of the bundles that produced the verdict.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

from provenance.settings import Settings

MISUSE_IS_SEPARATE = ("Misuse is a separate flag: it does not replace the machine/human verdict, which stays as "
                      "the detector gave it. A reviewer records 'misuse' when the content itself is the problem "
                      "(abuse, threats, hate), whoever wrote it.")


@dataclass(frozen=True)
class PriorityPart:
    """One signal's share of the review priority and the rule it applies (the share method's own docstring)."""

    signal: str
    share: float
    rule: str


@dataclass(frozen=True)
class PriorityBreakdown:
    parts: list[PriorityPart]  # every registered signal, zero shares included (a reader sees what did not count)
    total: float  # the parts' sum, rounded as the pipeline rounds it
    stored: float  # the priority stored with the verdict (the queue's sort key)
    ledger_match: bool  # the ledger answer the parts were computed with (the reader's own ledger for a tenant)

    @property
    def matches_stored(self) -> bool:
        return math.isclose(self.total, self.stored, abs_tol=1e-4)


def _rule(signal_class: type) -> str:
    doc = (signal_class.review_share.__doc__ or "").strip()
    return " ".join(doc.split()) or "no rule documented"


def priority_parts(verdict: Any, *, ledger_match: bool | None = None) -> PriorityBreakdown:
    """The review priority of ``verdict`` (a ``VerdictRow``) broken into each registered signal's share.

    ``ledger_match``: the ledger answer to use (a tenant's reviewer passes whether the match is in *its own*
    ledger, as ``provenance.tenant_view`` does); default: whether the stored verdict has a ledger match."""
    from provenance.pipeline.document_scoring import review_shares
    from provenance.signals import signal_class

    matched = bool(verdict.ledger_manifest_id) if ledger_match is None else ledger_match
    shares = review_shares(misuse=bool(verdict.misuse), watermarked=bool(verdict.watermarked),
                           verdict=verdict.verdict, p_machine=verdict.p_machine, margin=verdict.margin,
                           pii_count=int(verdict.pii_count or 0), ledger_match=matched)
    parts = [PriorityPart(name, round(share, 4), _rule(signal_class(name))) for name, share in shares.items()]
    return PriorityBreakdown(parts, round(sum(shares.values()), 4), float(verdict.review_priority or 0.0), matched)


@dataclass(frozen=True)
class ToxicityEvidence:
    """What stands behind a verdict's misuse flag (or its absence)."""

    scored: bool  # a toxicity bundle scored this text
    p_toxic: float | None
    toxic: bool
    categories: list[str]
    note: str | None
    threshold: float | None  # the scan threshold of the bundle that scored it (None: unknown, see threshold_note)
    threshold_note: str  # where the threshold comes from, or why it is not shown
    target_fpr: float | None
    machine_rule: float  # machine text at or over this p_toxic is misuse too
    misuse: bool
    rules_fired: list[str] = field(default_factory=list)
    separate: str = MISUSE_IS_SEPARATE


def _toxicity_card(settings: Settings) -> tuple[dict[str, Any] | None, str | None]:
    """The configured toxicity bundle's card and its version (``name:sha12``, what verdicts record). Read as
    JSON through ``provenance.bundles`` (``provenance.toxicity`` would import scikit-learn and torch: seconds on
    a loaded machine, for one number)."""
    from provenance.bundles import bundle_dir

    try:
        directory = bundle_dir(settings, settings.toxicity_bundle, kind="toxicity bundle")
        card = json.loads((Path(directory) / "card.json").read_text(encoding="utf-8"))
    except Exception:  # no bundle, an unreadable card or a bad name: the panel says so
        return None, None
    if not isinstance(card, dict):
        return None, None
    return card, f"{card.get('name')}:{str(card.get('model_sha256', ''))[:12]}"


def toxicity_evidence(settings: Settings, verdict: Any) -> ToxicityEvidence:
    """The toxicity record stored with ``verdict``, the threshold it was compared with and which misuse rule
    fired. The threshold is read from the installed bundle's card when that bundle is the one that scored the
    verdict (its version is recorded in ``models["toxicity"]``); otherwise the panel says it is not known."""
    from provenance.pipeline.document_scoring import MISUSE_MACHINE_P_TOXIC

    stored = verdict.record("toxicity")
    record = stored if isinstance(stored, dict) else None
    p_toxic = verdict.p_toxic if verdict.p_toxic is not None else (record or {}).get("p_toxic")
    p_toxic = None if p_toxic is None else float(p_toxic)
    toxic = bool((record or {}).get("toxic"))
    categories = [str(c) for c in (record or {}).get("categories") or []]
    card, installed = _toxicity_card(settings)
    used = (verdict.models or {}).get("toxicity") if isinstance(verdict.models, dict) else None
    section = (card or {}).get("threshold") if isinstance((card or {}).get("threshold"), dict) else {}
    threshold = target = None
    if record is None:
        note = "no toxicity bundle scored this text"
    elif card is None:
        note = "the toxicity bundle is not installed here, so its threshold cannot be shown"
    elif used and used != installed:
        note = (f"scored by toxicity bundle {used}; the installed one is {installed}, so the threshold that "
                "decided 'toxic' is not known here")
    else:
        threshold = section.get("value")
        target = section.get("target_fpr")
        threshold = None if threshold is None else float(threshold)
        target = None if target is None else float(target)
        note = (f"the scan threshold of toxicity bundle {installed}"
                + (f", chosen for a {target:.0%} false-positive rate on its labelled non-toxic texts"
                   if target is not None else "")
                + ("" if used else " (the verdict does not record which bundle scored it: the installed one is "
                                   "assumed)"))
    fired = []
    if toxic:
        fired.append("toxic: p_toxic is at or over the bundle's threshold")
    if verdict.verdict == "machine" and p_toxic is not None and p_toxic >= MISUSE_MACHINE_P_TOXIC:
        fired.append(f"machine-generated and leaning toxic: p_toxic >= {MISUSE_MACHINE_P_TOXIC:g} on a machine "
                     "verdict (flagged even under the bundle's threshold)")
    return ToxicityEvidence(scored=record is not None, p_toxic=p_toxic, toxic=toxic, categories=categories,
                            note=(record or {}).get("note"), threshold=threshold, threshold_note=note,
                            target_fpr=target, machine_rule=MISUSE_MACHINE_P_TOXIC, misuse=bool(verdict.misuse),
                            rules_fired=fired)


@dataclass(frozen=True)
class WatermarkRule:
    """The test a stored watermark result was decided by."""

    decided: bool  # False: abstained or too short (no statement either way)
    p_threshold: float | None  # watermarked when the (key-corrected) p-value is below this
    z_threshold: float | None  # the same rule on the z scale for one key (normal approximation)
    keys_tested: int | None
    tokens_scored: int | None
    tokens_required: int | None
    rule: str  # one sentence a reviewer reads


def _default_z_threshold() -> float:
    """The detector's default rule, read from the detector itself (so this page cannot drift from it)."""
    import inspect

    from watermark import WatermarkDetector

    return float(inspect.signature(WatermarkDetector).parameters["z_threshold"].default)


def watermark_rule(record: dict[str, Any] | None) -> WatermarkRule:
    """The threshold behind "detected" / "not detected": the stored ``p_value_threshold`` (the operator's
    false-positive rate, or the normal tail of the default z threshold), corrected for the keys tested, and
    the tokens scored against those needed. Rows scanned before the threshold was stored name the default."""
    stored = record or {}
    keys = stored.get("keys_tested")
    keys = int(keys) if isinstance(keys, (int, float)) and keys > 0 else None
    scored = stored.get("num_tokens_scored")
    required = stored.get("min_tokens_required")
    p_threshold = stored.get("p_value_threshold")
    default_z = _default_z_threshold()
    if p_threshold is None and stored.get("fpr") is None:
        p_threshold = 1.0 - NormalDist().cdf(default_z)
        origin = f"the detector's default rule z > {default_z:g} (not stored with this older verdict)"
    elif stored.get("fpr") is not None:
        p_threshold = float(p_threshold if p_threshold is not None else stored["fpr"])
        origin = f"the operator's false-positive rate {float(stored['fpr']):g}"
    else:
        origin = f"the default rule z > {default_z:g}"
    p_threshold = float(p_threshold)
    per_key = p_threshold / (keys or 1)
    z_threshold = NormalDist().inv_cdf(1.0 - per_key) if 0.0 < per_key < 1.0 else None
    decided = not stored.get("abstain") and not stored.get("too_short") and stored.get("p_value") is not None
    correction = f", corrected for {keys} keys tested" if keys and keys > 1 else ""
    z_text = f" (z above about {z_threshold:.2f})" if z_threshold is not None else ""
    rule = f"watermarked when p < {p_threshold:.2e}{correction}{z_text}: {origin}"
    if stored.get("too_short"):
        rule += (f". Too short to decide: {scored} tokens scored, {required} needed for that rate, so this is "
                 "neither watermarked nor 'not watermarked'")
    elif stored.get("abstain"):
        rule += f". Not tested: {stored.get('reason') or 'abstained'}"
    return WatermarkRule(decided, p_threshold, z_threshold, keys, None if scored is None else int(scored),
                         None if required is None else int(required), rule)


@dataclass(frozen=True)
class DetectorBar:
    """One detector statistic placed against the human range (0 = the human median, 1 = the human 95th
    percentile, -1 = the human 5th percentile; higher is more machine-like)."""

    name: str
    value: float  # the stored signed score (higher = more machine-like)
    scaled: float | None  # None when no human range is known for it
    human_low: float | None  # 5th percentile of human texts
    human_median: float | None
    human_high: float | None  # 95th percentile
    human_n: int | None


@dataclass(frozen=True)
class DetectorScale:
    bars: list[DetectorBar]
    reference: str  # where the human range comes from, or why there is none


def _detector_card(settings: Settings, bundle_version: str | None) -> tuple[dict[str, Any] | None, str]:
    """The card of the bundle that produced ``bundle_version`` (``name:digest``), when it is still installed
    unchanged here; else None and why."""
    from provenance.bundles import bundle_dir, read_bundle_card
    from provenance.bundles import bundle_version as version_of

    name = (bundle_version or "").split(":", 1)[0]
    if not name or ":" not in (bundle_version or ""):
        return None, f"the verdict names no detector bundle ({bundle_version or 'none'})"
    try:
        directory = bundle_dir(settings, name)
        card = read_bundle_card(directory)
        installed = version_of(settings, name) if card is not None else None
    except Exception:
        return None, f"detector bundle {name!r} cannot be read here"
    if card is None:
        return None, f"detector bundle {name!r} is not installed here"
    if installed != bundle_version:
        return None, f"detector bundle {name!r} was retrained since this verdict ({bundle_version} -> {installed})"
    return card, name


def detector_scale(settings: Settings, verdict: Any) -> DetectorScale:
    """Every stored detector score, scaled against where the *human* training texts of the verdict's bundle
    fell (``metrics.human_reference`` of its card: 5th/50th/95th percentiles). Without that reference (a
    bundle trained before it was stored, or one no longer installed) the bars carry the raw signed scores and
    ``reference`` says why they cannot be compared with each other."""
    scores = {str(k): float(v) for k, v in ((verdict.record("detection") or {}).get("detectors") or {}).items()
              if isinstance(v, (int, float)) and math.isfinite(float(v))}
    card, where = _detector_card(settings, getattr(verdict, "bundle_version", None))
    reference = ((card or {}).get("metrics") or {}).get("human_reference") or {}
    bars = []
    for name, value in scores.items():
        ref = reference.get(name) if isinstance(reference.get(name), dict) else None
        scaled = low = median = high = n = None
        if ref and all(key in ref for key in ("p5", "p50", "p95")):
            low, median, high, n = float(ref["p5"]), float(ref["p50"]), float(ref["p95"]), ref.get("n")
            half = (high - median) if value >= median else (median - low)
            scaled = (value - median) / half if half > 1e-12 else 0.0
        bars.append(DetectorBar(name, value, scaled, low, median, high, n))
    if card is None:
        why = f"{where}: no human range, so the raw scores are shown (each on its own scale)"
    elif not reference:
        why = (f"detector bundle {where!r} was trained before human ranges were stored on its card: the raw "
               "scores are shown (each on its own scale; retrain to get the ranges)")
    else:
        counts = sorted({b.human_n for b in bars if b.human_n})
        size = f"{counts[-1]:,} " if counts else ""
        why = (f"human range: 5th-95th percentile of the {size}human training texts of bundle {where!r} "
               "(out-of-fold for trained margins); 0 = their median")
    return DetectorScale(bars, why)
