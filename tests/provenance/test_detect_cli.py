"""`provenance detect train|score` and `provenance eval` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_support import assert_clean_failure, json_lines, run_cli
from tests.conftest import install_bundle, resign_bundle

CONTRACT_KEYS = {"id", "p_machine", "verdict", "detectors"}


@pytest.fixture
def trained_env(clean_env: Path, micro_model_dir: Path, trained_bundle: Path, monkeypatch) -> Path:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    install_bundle(trained_bundle, clean_env)
    return clean_env


def test_train_writes_a_bundle_with_its_card(capsys, clean_env: Path, micro_model_dir: Path,
                                             detect_data_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    code, out, err = run_cli(capsys, "detect", "train", str(detect_data_file), "--out", "quick",
                             "--max-texts", "120", "--json")
    assert code == 0, err
    (card,) = json_lines(out)
    assert card["name"] == "quick" and card["data"]["texts"] <= 130
    assert card["metrics"]["cross_validated"]["ensemble"]["auroc"] > 0.5
    assert {"weights_sha256", "tokenizer_fingerprint", "location"} <= card["scorer"].keys()
    assert json.loads((clean_env / "detectors" / "quick" / "card.json").read_text()) == card


def test_train_can_add_sampled_text_from_another_model_and_records_it(capsys, clean_env: Path,
                                                                       micro_model_dir: Path, detect_data_file: Path,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    code, out, err = run_cli(capsys, "detect", "train", str(detect_data_file), "--out", "sampled", "--max-texts",
                             "120", "--sampled-from", str(micro_model_dir), "--sampled-per-setting", "4",
                             "--sampled-tokens", "40", "--json")
    assert code == 0, err
    (card,) = json_lines(out)
    record = card["training"]["sampled_text"]
    assert record["per_setting"] == 4 and set(record["settings"]) == {"pure", "nucleus"}
    assert record["weights_sha256"] and record["new_tokens"] == 40
    assert card["data"]["generators"]["sampled-pure"] == 4 and card["data"]["generators"]["sampled-nucleus"] == 4
    code, _, err = run_cli(capsys, "detect", "train", str(detect_data_file), "--out", "too-many", "--max-texts",
                           "120", "--sampled-from", str(micro_model_dir), "--sampled-per-setting", "500")
    assert code == 2 and "distinct prefixes" in err and "hint:" in err


def test_train_takes_a_directory_and_ships_the_two_sided_recipe(capsys, clean_env: Path, micro_model_dir: Path,
                                                                 detect_data_file: Path, monkeypatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    folder = tmp_path / "labelled"
    folder.mkdir()
    (folder / detect_data_file.name).write_bytes(detect_data_file.read_bytes())
    code, out, err = run_cli(capsys, "detect", "train", str(folder), "--out", "from-dir", "--max-texts", "120",
                             "--json")
    assert code == 0, err
    (card,) = json_lines(out)
    assert card["training"]["stacker"] == "twosided-probe" and "probe" in card["training"]["stack_inputs"]
    assert card["thresholds"]["target_fnr"] == 0.1
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(capsys, "detect", "train", str(empty), "--out", "nothing")
    assert code == 2 and "no .jsonl files" in err


def test_train_with_the_probe_stacker_records_it_and_scores(capsys, clean_env: Path, micro_model_dir: Path,
                                                            detect_data_file: Path, monkeypatch,
                                                            tmp_path: Path) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    code, out, err = run_cli(capsys, "detect", "train", str(detect_data_file), "--out", "probed", "--max-texts",
                             "120", "--stacker", "probe", "--json")
    assert code == 0, err
    (card,) = json_lines(out)
    assert card["training"]["stacker"] == "probe" and "probe" in card["training"]["stack_inputs"]
    texts = tmp_path / "in.jsonl"
    texts.write_text(json.dumps({"id": 1, "text": " ".join(["The harbour master counted every barrel."] * 6)}) + "\n")
    code, out, err = run_cli(capsys, "detect", "score", str(texts), "--bundle", "probed", "--json")
    assert code == 0, err
    (record,) = json_lines(out)
    assert {"id", "p_machine", "verdict", "detectors"} <= record.keys() and "probe" in record["detectors"]
    code, _, err = run_cli(capsys, "detect", "train", str(detect_data_file), "--out", "x", "--stacker", "forest")
    assert code == 2 and "unknown --stacker" in err and "hint:" in err


def test_score_uses_the_bundles_scorer_when_no_model_is_set(capsys, trained_env: Path, micro_model_dir: Path,
                                                            monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PROVENANCE_MODEL")
    monkeypatch.setenv("PROVENANCE_HUB_OFFLINE", "1")
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"text": "The old captain walked toward the harbour before the storm. " * 3}) + "\n")
    code, out, err = run_cli(capsys, "detect", "score", str(path))
    assert code == 0, err
    (row,) = json_lines(out)
    assert row["id"] == 0 and row["verdict"] in {"machine", "human", "uncertain"}
    assert "watermark" not in row  # no watermark keys yet: nothing to report beside the verdict
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    assert run_cli(capsys, "keys", "create")[0] == 0
    monkeypatch.delenv("PROVENANCE_MODEL")
    code, out, err = run_cli(capsys, "detect", "score", str(path))
    (row,) = json_lines(out)
    assert row["watermark"]["watermarked"] is False and "p_value" in row["watermark"]


def test_score_contract_order_ids_and_bad_lines(capsys, trained_env: Path, detect_data_file: Path,
                                                tmp_path: Path) -> None:
    sample = [json.loads(line)["text"] for line in detect_data_file.read_text().splitlines()[:4]]
    lines = [json.dumps({"id": "a", "text": sample[0]}), json.dumps({"text": sample[1]}),
             json.dumps({"id": 7, "text": "   "}), json.dumps({"id": "no-text"}), "{broken json",
             json.dumps({"id": "b", "text": sample[2]}), json.dumps({"id": "single", "text": "word"}),
             json.dumps({"id": "bytes", "text": "\ufffd\x00\ufffd" * 300})]
    path = tmp_path / "in.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "latin1", "text": "caf\xe9"}\n')
    code, out, err = run_cli(capsys, "detect", "score", str(path), "--json")
    assert code == 0, err
    rows = json_lines(out)
    assert [r["id"] for r in rows] == ["a", 1, 7, "no-text", 4, "b", "single", "bytes", 8]
    for row in rows:
        assert row.keys() >= CONTRACT_KEYS
        assert row["verdict"] in {"machine", "human", "uncertain", "abstain"}
        if row["verdict"] == "abstain":
            assert row["p_machine"] is None and row["reasons"]
        else:
            assert 0.0 <= row["p_machine"] <= 1.0
            assert isinstance(row["detectors"]["classifier"], float)
    judged = {r["id"]: r for r in rows}
    assert judged["a"]["verdict"] != "abstain" and judged[1]["verdict"] != "abstain"
    assert judged[7]["verdict"] == judged["single"]["verdict"] == judged["bytes"]["verdict"] == "abstain"
    assert "error" in judged["no-text"] and "error" in judged[4] and "error" in judged[8]


def test_score_line_and_stored_signal_record_are_one_judgement(capsys, trained_env: Path, detect_data_file: Path,
                                                              tmp_path: Path) -> None:
    """``detect score`` prints what a scan stores for the same text (both from ``DetectionSignal.judge``): the
    same numbers, the margin included (it falls back to the bundle's thresholds in both)."""
    from provenance.cli.config_cmd import load_settings
    from provenance.signals import signal_set

    texts = [json.loads(line)["text"] for line in detect_data_file.read_text().splitlines()[:3]]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"text": text}) + "\n" for text in texts))
    detection = signal_set(load_settings()).get("detection")
    # Both sides read the statistics cache: a text's first scoring (computed) and later ones (cached) differ in
    # the fourth decimal, which is the cache's precision, not two builders.
    detection.judge(texts)
    code, out, err = run_cli(capsys, "detect", "score", str(path), "--no-watermark")
    assert code == 0, err
    rows = json_lines(out)
    stored = [result.record() for result in detection.score(texts)]
    keys = ("p_machine", "verdict", "margin", "detectors", "reasons")
    assert [{key: row[key] for key in keys} for row in rows] == [{key: rec[key] for key in keys} for rec in stored]
    assert [row["tokens"] for row in rows] == [rec["num_tokens"] for rec in stored]
    assert [row["margin"] is None for row in rows] == [row["p_machine"] is None for row in rows]


def test_score_without_bundle_or_with_another_scorer_fails_cleanly(capsys, trained_env: Path,
                                                                    tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"text": "hello there"}) + "\n")
    code, _, err = run_cli(capsys, "detect", "score", str(path), "--bundle", "nope")
    assert_clean_failure(code, err)
    assert "no detector bundle" in err
    card_path = trained_env / "detectors" / "default" / "card.json"
    card = json.loads(card_path.read_text())
    card["scorer"]["weights_sha256"] = "0" * 64
    card_path.write_text(json.dumps(card))
    code, _, err = run_cli(capsys, "detect", "score", str(path))
    assert_clean_failure(code, err)
    assert "does not match its signature" in err and "card.json" in err  # an edited card is refused first
    resign_bundle(trained_env, card_path.parent)  # a signed bundle that really was trained for another scorer
    code, _, err = run_cli(capsys, "detect", "score", str(path))
    assert_clean_failure(code, err)
    assert "trained for scorer" in err and "hint:" in err


def test_eval_reports_detectors_intervals_and_plot(capsys, trained_env: Path, detect_data_file: Path,
                                                   tmp_path: Path) -> None:
    plot = tmp_path / "roc.png"
    code, out, err = run_cli(capsys, "eval", str(detect_data_file), "--include-training", "--no-holdout",
                             "--plot", str(plot), "--json")
    assert code == 0, err
    (report,) = json_lines(out)
    for name in ("ensemble", "classifier", "fast_detectgpt", "log_likelihood", "log_rank"):
        row = report["detectors"][name]
        assert 0 <= row["auroc"] <= 1 and len(row["auroc_ci95"]) == 2
    assert "fpr_at_threshold" in report["detectors"]["ensemble"]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    code, _, err = run_cli(capsys, "eval", str(detect_data_file), "--no-holdout")
    assert_clean_failure(code, err)  # every text was used for training: nothing left to evaluate honestly
    assert "--include-training" in err


def test_demo_trains_the_default_bundle_then_judges_held_out_texts(capsys, clean_env: Path, micro_model_dir: Path,
                                                                  detect_data_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    args = ("demo", "--max-new-tokens", "40", "--detect-data", str(detect_data_file), "--detect-max-texts", "120")
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    flat = " ".join(out.split())  # Rich wraps long lines at spaces
    assert "detector bundle 'default' trained: " in flat
    assert (clean_env / "detectors" / "default" / "card.json").is_file()
    # The scanned dump holds held-out labelled texts of both kinds next to the demo's own generations.
    assert "human: held-out labelled" in flat and "other LLMs: held-out labelled" in flat
    assert "ours: watermarked generations" in flat
    assert "scan job" in out and "done" in out and "quarantined" in out  # the dump went through a real worker
    assert "provenance dashboard" in out and "sign in as reviewer 'demo'" in flat
    code, out, err = run_cli(capsys, *args)  # second run reuses the bundle
    assert code == 0, err
    flat = " ".join(out.split())
    assert "detector bundle 'default' reused" in flat and "trained:" not in flat
