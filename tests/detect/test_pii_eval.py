"""Span-level evaluation: hand-computed P/R/F2 on a tiny fixture, per-type report, gold checks, splits, and
quality over Presidio's defaults on hand-written documents the rules were not built from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detect.pii.evaluation import Span, load_presidio_json, score

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def sample(text: str, *spans: tuple[str, str]) -> dict:
    out = []
    for label, value in spans:
        start = text.index(value)
        out.append({"entity_type": label, "entity_value": value, "start_position": start,
                    "end_position": start + len(value)})
    return {"full_text": text, "spans": out}


FIXTURE = [
    sample("Call Ann Lee at 555-0100 now", ("PERSON", "Ann Lee"), ("PHONE_NUMBER", "555-0100")),
    sample("Lives at 12 Main St\n Apt. 4\n Springfield", ("ADDRESS", "12 Main St"), ("ADDRESS", "Apt. 4"),
           ("LOCATION", "Springfield")),
    sample("Dr. Bob is a Surgeon", ("PREFIX", "Dr."), ("PERSON", "Bob"), ("TITLE", "Surgeon")),
]


def test_hand_computed_scores(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(FIXTURE))
    samples = load_presidio_json(path)
    t0, t1, t2 = (s.text for s in samples)
    predictions = [
        # PERSON exact (TP); the phone as two halves joined by "-": merged into one predicted span (TP).
        [Span(5, 12, "PERSON"), Span(16, 19, "PHONE_NUMBER"), Span(20, 24, "PHONE_NUMBER")],
        # One ADDRESS over the whole block: gold ADDRESS parts merge (one span), LOCATION is separate.
        [Span(t1.index("12"), len(t1), "ADDRESS")],
        # A person span including the prefix (IoU 3/6 = 0.5: a match) and a false positive on "Surgeon".
        [Span(0, 7, "PERSON"), Span(t2.index("Surgeon"), len(t2), "ORGANIZATION")],
    ]
    report = score(samples, predictions).to_dict()
    # PII vs not: gold = {Ann Lee, 555-0100} + {merged address block incl. Springfield} + {Bob} = 4 spans;
    # all 4 found. Predicted 5 after merging, credited 4 (the ORGANIZATION on a TITLE is not PII) -> P 4/5, R 1.
    pii = report["pii"]
    assert (pii["gold"], pii["true_positives"], pii["predicted"], pii["false_positives"]) == (4, 4, 5, 1)
    assert pii["precision"] == pytest.approx(4 / 5, abs=1e-4)
    assert pii["recall"] == 1.0
    assert pii["f2"] == pytest.approx(5 * 0.8 / (4 * 0.8 + 1), abs=1e-4)
    per = report["per_category"]
    # ADDRESS: merged gold "12 Main St\n Apt. 4" vs the prediction over it plus "Springfield": IoU 14/25 >= 0.5.
    assert (per["ADDRESS"]["gold"], per["ADDRESS"]["true_positives"]) == (1, 1)
    assert (per["LOCATION"]["gold"], per["LOCATION"]["true_positives"]) == (1, 0)
    assert per["PERSON"]["recall"] == 1.0 and per["PHONE_NUMBER"]["precision"] == 1.0
    assert per["ORGANIZATION"]["precision"] == 0.0


def test_below_iou_threshold_is_a_miss() -> None:
    from detect.pii.evaluation import Sample

    text = "Contact Alexandria Smith-Jones today"
    gold = [Span(8, 24, "PERSON")]
    assert score([Sample(text, gold)], [[Span(8, 11, "PERSON")]]).pii.tp == 0
    assert score([Sample(text, gold)], [[Span(8, 20, "PERSON")]]).pii.tp == 1


def test_per_type_recall_by_gold_label_and_false_positives_by_predicted_label(tmp_path: Path) -> None:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(FIXTURE))
    samples = load_presidio_json(path)
    t1, t2 = samples[1].text, samples[2].text
    predictions = [
        [Span(5, 12, "PERSON")],  # the phone is missed
        [Span(t1.index("12"), len(t1), "ADDRESS")],
        [Span(t2.index("Bob"), t2.index("Bob") + 3, "PERSON"), Span(t2.index("Surgeon"), len(t2), "ORGANIZATION")],
    ]
    per = score(samples, predictions).to_dict()["per_type"]
    assert per["recall"]["PHONE_NUMBER"] == {"gold": 1, "found": 0, "recall": 0.0, "pii": True}
    assert per["recall"]["PERSON"]["recall"] == 1.0 and per["recall"]["LOCATION"]["recall"] == 1.0
    assert per["recall"]["ADDRESS"] == {"gold": 2, "found": 2, "recall": 1.0, "pii": True}
    assert per["recall"]["TITLE"]["pii"] is False and per["recall"]["TITLE"]["found"] == 1  # redacted non-PII
    assert per["false_positives"]["ORGANIZATION"] == {"predicted": 1, "false_positives": 1, "precision": 0.0}
    assert per["false_positives"]["PERSON"]["false_positives"] == 0


@pytest.mark.parametrize(("spans", "message"), [
    ([(0, 4, "PERSON"), (2, 8, "LOCATION")], "overlap"),
    ([(5, 99, "PERSON")], "out of range"),
    ([(6, 3, "PERSON")], "out of range"),
])
def test_bad_gold_offsets_name_the_sample_and_span(tmp_path: Path, spans: list, message: str) -> None:
    from detect.pii import PIIError

    good = {"full_text": "fine text", "spans": []}
    bad = {"full_text": "Anna Berg", "spans": [{"entity_type": label, "start_position": start, "end_position": end}
                                                for start, end, label in spans]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([good, bad]))
    with pytest.raises(PIIError) as error:
        load_presidio_json(path)
    assert message in str(error.value) and "sample 1" in str(error.value)
    first = spans[0]
    assert f"[{first[0]}:{first[1]}]" in str(error.value)


def test_template_skeletons_group_documents_and_folds_keep_groups_whole() -> None:
    from detect.pii.evaluation import Sample
    from detect.pii.splits import group_kfold, skeleton, unseen_templates

    def filled(template: str, name: str, city: str) -> Sample:
        text = template.format(name=name, city=city)
        start, place = text.index(name), text.index(city)
        return Sample(text, [Span(start, start + len(name), "PERSON"), Span(place, place + len(city), "LOCATION")])

    first = [filled("{name} flew to {city} today.", n, c) for n, c in (("Ana Ruiz", "Oslo"), ("Li Wei", "Quito"))]
    second = [filled("Ask {name}  about {city}", n, c) for n, c in (("Ode Bello", "Lima"), ("Jo Park", "Riga"))]
    third = [filled("In {city}, {name} waited.", "Kai Moe", "Baku")]
    samples = [*first, *second, *third]
    assert skeleton(first[0]) == skeleton(first[1]) == "<person> flew to <location> today."
    assert skeleton(second[0]) == "ask <person> about <location>"
    folds = group_kfold(samples, 2)
    assert folds[0] == folds[1] and folds[2] == folds[3]
    assert group_kfold(list(reversed(samples)), 2) == list(reversed(folds))  # independent of file order
    assert unseen_templates(samples, first) == [*second, *third]


def test_quality_beats_presidio_defaults_on_handwritten_documents(tmp_path: Path) -> None:
    """Hand-written documents (tests/detect/pii_handwritten.py), not from the data the rules were developed on."""
    from detect.pii import PIIConfig, get_analyzer
    from detect.pii.baseline import presidio_default_analyzer
    from tests.detect.pii_handwritten import DOCUMENTS

    path = tmp_path / "handwritten.json"
    path.write_text(json.dumps(DOCUMENTS))
    samples = load_presidio_json(path)
    ours = get_analyzer(PIIConfig()).analyze_batch([s.text for s in samples])
    baseline = presidio_default_analyzer()
    theirs = [[Span(r.start, r.end, r.entity_type) for r in baseline.analyze(s.text, language="en")]
              for s in samples]
    mine = score(samples, [[Span(e.start, e.end, e.type) for e in found] for found in ours])
    base = score(samples, theirs)
    assert mine.pii.scores()["f2"] >= 0.75
    assert mine.pii.scores()["f2"] >= base.pii.scores()["f2"] + 0.05
    recall, base_recall = mine.per_type()["recall"], base.per_type()["recall"]
    for label in ("DATE_TIME", "CREDIT_CARD", "AGE", "LOCATION", "ORGANIZATION", "PERSON"):
        assert recall[label]["recall"] >= base_recall[label]["recall"] - 0.05, label
