"""The watermark detector's contract record, shared by the CLI, the API and the scanning pipeline."""

from __future__ import annotations

from typing import Any

from watermark import WatermarkDetector, WatermarkInputError

RESULT_KEYS = ("z_score", "p_value", "green_fraction", "num_tokens_scored", "watermarked", "key_id")
# added with the unigram scheme and --fpr: which scheme scored, the rule decided with, and too_short
DECISION_KEYS = ("scheme", "too_short", "min_tokens_required", "fpr", "p_value_threshold")


def decision_fields(overall: Any) -> dict[str, Any]:
    """The decision fields of a DetectionResult (scheme, too_short, min_tokens_required, fpr, threshold)."""
    return {key: getattr(overall, key) for key in DECISION_KEYS}


def abstain_record(reason: str, **extra: Any) -> dict[str, Any]:
    """The one shape of a watermark abstention (no key, text the tokenizer refuses, a bad input line): every
    contract key present, nothing decided."""
    return {**dict.fromkeys(RESULT_KEYS), "watermarked": False, "abstain": True, "reason": reason, **extra}


def overall_record(overall: Any) -> dict[str, Any]:
    """The contract record of a detector's overall (non-windowed) result."""
    record: dict[str, Any] = {key: getattr(overall, key) for key in RESULT_KEYS}
    record.update(abstain=overall.abstain, reason=overall.reason, keys_tested=overall.keys_tested,
                  **decision_fields(overall))
    return record


def detect_record(detector: WatermarkDetector, text: str | bytes, windowed: bool,
                  fpr: float | None = None) -> dict[str, Any]:
    """The contract object for one text (plus abstain/reason; spans when windowed). ``fpr``: decide at this
    false-positive rate instead of the detector's default rule (z > 4)."""
    detector = detector.at_fpr(fpr)
    try:
        if windowed:
            result = detector.detect_windowed(text)
            overall = result.overall
        else:
            overall = detector.detect(text, details=False)
    except WatermarkInputError as exc:
        return abstain_record(str(exc))
    record = overall_record(overall)
    if windowed:
        record["spans"] = [{"start": s.start, "end": s.end, "p_value": s.p_value} for s in result.spans]
        record["windowed_p_value"] = result.p_value
        record["watermarked"] = bool(overall.watermarked or result.watermarked)
    return record
