"""`provenance.toxicity.ToxicityService` and `train_default_toxicity`: the API the pipeline and demo call."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detect.errors import DetectionError
from provenance.settings import Settings
from provenance.toxicity import ToxicityService, train_default_toxicity
from testkit.texts import synthetic_toxicity_rows


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "toxicity-data"
    directory.mkdir()
    rows = synthetic_toxicity_rows(300, seed=5)
    for source in ("chat", "forum"):
        lines = [json.dumps(row) for row in rows if row["source"] == source]
        (directory / f"{source}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def test_service_without_a_bundle(clean_env: Path) -> None:
    service = ToxicityService(Settings(home=clean_env))
    assert service.available is False and service.version is None
    with pytest.raises(DetectionError) as error:
        service.score(["hello"])
    assert "train-toxicity" in error.value.hint


def test_train_default_then_score(clean_env: Path, data_dir: Path) -> None:
    settings = Settings(home=clean_env)
    path = train_default_toxicity(settings, [data_dir], max_per_source=100)
    assert path == clean_env / "detectors" / "toxicity"
    card = json.loads((path / "card.json").read_text())
    assert card["data"]["texts"] <= 200 and card["training"]["folds"] == 3
    service = ToxicityService(settings)
    assert service.available and service.version.startswith("toxicity:") and len(service.version) == 21
    results = service.score(["you are a pathetic moron", "thanks for the book, sam", ""])
    contract = {"p_toxic", "toxic", "categories", "note", "blocked", "block_reason"}
    assert all(contract <= set(r) <= contract | {"block_scores"} for r in results)
    scan = service.score(["you are a pathetic moron"], blocking=False)  # the scan policy: flag, never decide
    assert scan[0]["blocked"] is None and scan[0]["p_toxic"] == results[0]["p_toxic"]
    assert service.block_threshold >= service.threshold and card["block_threshold"]["target_fpr"] == 0.005
    assert results[0]["blocked"] is (results[0]["p_toxic"] >= service.block_threshold)
    assert results[0]["toxic"] and not results[1]["toxic"] and results[2]["note"]
    assert all(isinstance(r["p_toxic"], float) for r in results)


def test_bad_bundle_names_are_refused(clean_env: Path) -> None:
    service = ToxicityService(Settings(home=clean_env, toxicity_bundle="bad name!"))
    assert service.available is False
    with pytest.raises(DetectionError, match="unsupported characters"):
        service.score(["x"])
    with pytest.raises(DetectionError, match="does not exist"):
        train_default_toxicity(Settings(home=clean_env), [clean_env / "missing.jsonl"])
    (clean_env / "empty").mkdir(parents=True)
    with pytest.raises(DetectionError, match="no toxicity data"):
        train_default_toxicity(Settings(home=clean_env), [clean_env / "empty"])
