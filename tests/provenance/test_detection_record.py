"""The detection record: one builder behind ``detect score`` / ``/v1/verify`` lines and the stored signal."""

from __future__ import annotations

from detect.ensemble import Thresholds, Verdict
from provenance.detection import detection_fields, verdict_record

# Invented values: they exercise the shape, not a measurement.
GLOBAL = Thresholds(machine=0.8, human=0.3, target_fpr=0.01)
ROUTED = Thresholds(machine=0.7, human=0.2, target_fpr=0.01, domain="invented-domain")


def _verdict(p_machine: float | None, thresholds: Thresholds | None) -> Verdict:
    return Verdict(p_machine=p_machine, verdict="machine", detectors={"ensemble": 0.8512345678, "other": None},
                   reasons=["an invented reason"], diagnostics={"tokens": 42}, thresholds=thresholds)


def test_record_keeps_its_keys_and_adds_the_margin() -> None:
    record = verdict_record("row-9", detection_fields(_verdict(0.8512345678, GLOBAL)), {"watermarked": False})
    assert list(record) == ["id", "p_machine", "verdict", "margin", "detectors", "reasons", "tokens", "watermark"]
    assert record["p_machine"] == 0.851235
    assert record["margin"] == round(0.8512345678 - 0.8, 6)
    assert record["detectors"] == {"ensemble": 0.851235, "other": None}
    assert record["tokens"] == 42 and record["watermark"] == {"watermarked": False}


def test_margin_uses_the_routed_thresholds_then_the_fallback() -> None:
    assert detection_fields(_verdict(0.72, ROUTED), GLOBAL)["margin"] == 0.02  # its domain's machine threshold
    assert detection_fields(_verdict(0.72, None), GLOBAL)["margin"] == 0.08  # the global machine threshold
    assert detection_fields(_verdict(0.72, None))["margin"] is None
    assert detection_fields(_verdict(None, GLOBAL))["margin"] is None  # an abstention has no margin


def test_record_and_signal_fields_are_the_same_builder() -> None:
    verdict = _verdict(0.9, GLOBAL)
    fields = detection_fields(verdict)
    record = verdict_record(0, fields)
    assert {key: value for key, value in record.items() if key != "id"} == fields
    assert fields["reasons"] is not verdict.reasons  # a copy: editing the record never edits the verdict
