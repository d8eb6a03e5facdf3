"""The detector chart's data and Vega-Lite spec (``dashboard.explain``), without a browser."""

from __future__ import annotations

from dashboard.explain import MAX_SCALED, detector_figure, detector_rows
from provenance.review.evidence import DetectorBar, DetectorScale


def _bar(name: str, value: float, scaled: float | None) -> DetectorBar:
    ranged = scaled is not None
    return DetectorBar(name, value, scaled, -1.0 if ranged else None, 0.0 if ranged else None,
                       1.0 if ranged else None, 120 if ranged else None)


def test_ranged_chart_labels_every_bar_marks_the_human_band_and_clips_far_values() -> None:
    scale = DetectorScale([_bar("fast_detectgpt", 2.5, 2.5), _bar("classifier", -0.3, -0.3),
                           _bar("log_rank", 40.0, 9.0), _bar("unranged", 1.0, None)], "invented reference")
    rows, ranged = detector_rows(scale)
    assert ranged and [r["statistic"] for r in rows] == ["fast_detectgpt", "classifier", "log_rank"]
    assert rows[2]["x"] == MAX_SCALED and rows[2]["label"] == "40"  # clipped bar, true value in its label
    assert [r["side"] for r in rows] == ["machine side", "human side", "machine side"]
    spec = detector_figure(scale).to_dict()
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]]
    assert marks == ["rect", "rule", "bar", "text", "text"]  # band, median, bars, labels right and left of 0
    assert all(spec["layer"][i]["encoding"]["text"]["field"] == "label" for i in (3, 4))
    assert spec["layer"][2]["encoding"]["x"]["title"] == "vs human range (band)"
    assert spec["layer"][2]["encoding"]["x"]["scale"]["domain"] == [-MAX_SCALED - 1, MAX_SCALED + 1]


def test_without_a_reference_the_raw_scores_are_drawn() -> None:
    rows, ranged = detector_rows(DetectorScale([_bar("perplexity", 0.88, None)], "no reference"))
    assert not ranged and rows == [{"statistic": "perplexity", "x": 0.88, "label": "0.88", "side": "machine side"}]
    marks = [layer["mark"] for layer in detector_figure(DetectorScale([_bar("perplexity", 0.88, None)], "")
                                                        ).to_dict()["layer"]]
    assert [m["type"] if isinstance(m, dict) else m for m in marks] == ["bar", "text", "text"]
