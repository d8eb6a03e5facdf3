"""The watermark detector's contract record, shared by the CLI, the API and the scanning pipeline."""

from __future__ import annotations

from typing import Any

from watermark import WatermarkDetector, WatermarkInputError

RESULT_KEYS = ("z_score", "p_value", "green_fraction", "num_tokens_scored", "watermarked", "key_id")


def detect_record(detector: WatermarkDetector, text: str | bytes, windowed: bool) -> dict[str, Any]:
    """The contract object for one text (plus abstain/reason; spans when windowed)."""
    try:
        if windowed:
            result = detector.detect_windowed(text)
            overall = result.overall
        else:
            overall = detector.detect(text, details=False)
    except WatermarkInputError as exc:
        return {**dict.fromkeys(RESULT_KEYS), "watermarked": False, "abstain": True, "reason": str(exc)}
    record: dict[str, Any] = {key: getattr(overall, key) for key in RESULT_KEYS}
    record.update(abstain=overall.abstain, reason=overall.reason, keys_tested=overall.keys_tested)
    if windowed:
        record["spans"] = [{"start": s.start, "end": s.end, "p_value": s.p_value} for s in result.spans]
        record["windowed_p_value"] = result.p_value
        record["watermarked"] = bool(overall.watermarked or result.watermarked)
    return record
