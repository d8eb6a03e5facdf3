"""`provenance detect train-toxicity|toxicity` and `provenance eval-toxicity` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_support import assert_clean_failure, json_lines, run_cli
from tests.conftest import install_bundle

CONTRACT_KEYS = {"id", "p_toxic", "toxic", "categories", "blocked"}


@pytest.fixture
def toxicity_env(clean_env: Path, toxicity_bundle_path: Path) -> Path:  # noqa: F811
    install_bundle(toxicity_bundle_path, clean_env, "toxicity", "toxicity-bundle")
    return clean_env


def test_train_writes_a_bundle_with_its_card(capsys, clean_env: Path, toxicity_data_file: Path) -> None:  # noqa: F811
    code, out, err = run_cli(capsys, "detect", "train-toxicity", str(toxicity_data_file), "--out", "quick",
                             "--folds", "2", "--target-fpr", "0.1", "--json")
    assert code == 0, err
    (card,) = json_lines(out)
    assert card["name"] == "quick" and card["threshold"]["target_fpr"] == 0.1
    assert card["block_threshold"]["value"] >= card["threshold"]["value"]
    assert [row["test"] for row in card["metrics"]["leave_one_source_out"]] == ["chat", "forum"]
    assert card["metrics"]["cross_validated"]["pooled"]["auroc"] > 0.9
    assert json.loads((clean_env / "detectors" / "quick" / "card.json").read_text()) == card
    assert "skipped" in err  # the two bad lines are named, not fatal


def test_score_contract_order_ids_and_bad_lines(capsys, toxicity_env: Path, tmp_path: Path) -> None:
    lines = [json.dumps({"id": "a", "text": "you are a stupid idiot"}), json.dumps({"text": "the garden was lovely"}),
             json.dumps({"id": 7, "text": ""}), json.dumps({"id": "no-text"}), "{broken json",
             json.dumps({"id": "emoji", "text": "😂😂"}), json.dumps({"id": "ru", "text": "Я тебя ненавижу, идиот"}),
             json.dumps({"id": "big", "text": "the book was fine. " * 300_000})]
    path = tmp_path / "in.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe not utf-8\n")
    code, out, err = run_cli(capsys, "detect", "toxicity", str(path), "--json")
    assert code == 0, err
    rows = json_lines(out)
    assert [row["id"] for row in rows] == ["a", 1, 7, "no-text", 4, "emoji", "ru", "big", 8]
    assert all(row.keys() >= CONTRACT_KEYS for row in rows)
    assert rows[0]["toxic"] is True and rows[0]["categories"] and rows[1]["toxic"] is False
    assert rows[2]["p_toxic"] == 0.0 and "no words" in rows[2]["note"] and rows[2]["blocked"] is False
    assert rows[1]["blocked"] is False and rows[3]["blocked"] is None  # a bad line blocks nothing
    assert "text" in rows[3]["error"] and "JSON" in rows[4]["error"] and "UTF-8" in rows[8]["error"]
    assert "note" in rows[5] and "non-Latin" in rows[6]["note"] and "first" in rows[7]["note"]


def test_score_without_a_bundle_is_a_clean_error(capsys, clean_env: Path, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"text": "hello"}) + "\n")
    code, _, err = run_cli(capsys, "detect", "toxicity", str(path))
    assert_clean_failure(code, err)
    assert code == 2 and "train-toxicity" in err
    code, _, err = run_cli(capsys, "detect", "toxicity", str(tmp_path / "missing.jsonl"))
    assert code == 2


def test_eval_reports_per_source_cross_source_and_bias(capsys, toxicity_env: Path,
                                                      toxicity_data_file: Path) -> None:  # noqa: F811
    code, out, err = run_cli(capsys, "eval-toxicity", str(toxicity_data_file), "--folds", "2", "--json")
    assert code == 0, err
    (report,) = json_lines(out)
    assert "skipped" in report["shipped"]  # the bundle was trained on exactly these rows
    assert report["excluded_training_overlap"] == report["data"]["texts"]
    for source in ("pooled", "chat", "forum"):
        row = report["cross_validated"][source]
        assert {"auroc", "tpr_at_5pct_fpr", "f1_at_threshold"} <= row.keys()
    assert len(report["cross_source"]) == 2 and "fpr_gap" in report["cross_validated"]["bias"]
    assert {row["test"] for row in report["leave_one_source_out"]} == {"chat", "forum"}
    code, out, err = run_cli(capsys, "eval-toxicity", str(toxicity_data_file), "--no-retrain",
                             "--include-training", "--json")
    (report,) = json_lines(out)
    assert report["shipped"]["pooled"]["auroc"] > 0.9 and "cross_source" not in report
