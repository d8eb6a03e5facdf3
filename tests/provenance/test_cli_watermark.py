"""Watermarked, stamped generation through the CLI: contract keys, detection, manifests, keys, secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_support import assert_clean_failure, json_lines, run_cli

DETECT_KEYS = {"id", "z_score", "p_value", "green_fraction", "num_tokens_scored", "watermarked", "key_id"}


@pytest.fixture
def cli_env(clean_env: Path, micro_model_dir: Path, monkeypatch, capsys) -> Path:
    """The micro model's text is low-entropy and short (context 64), so tests use a strong bias (delta 6)."""
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    code, _, err = run_cli(capsys, "keys", "create", "--delta", "6")
    assert code == 0, err
    return clean_env


def test_first_generation_creates_the_keys(capsys, clean_env: Path, micro_model_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    row = generate_rows(capsys)[0]
    listed = json_lines(run_cli(capsys, "keys", "list", "--json")[1])
    assert [(k["key_id"], k["status"], k["scheme"], k["delta"]) for k in listed] == [
        (row["watermark"]["key_id"], "active", "unigram", 3.0)]  # a new key's defaults
    assert (clean_env / "keys" / "signing_ed25519.pem").is_file()


def generate_rows(capsys, *extra: str) -> list[dict]:
    code, out, err = run_cli(capsys, "generate", "--prompt", "The", "--n", "4", "--max-new-tokens", "56",
                             "--min-new-tokens", "56",
                             "--top-k", "0", "--temperature", "1.3", "--seed", "3", "--json", *extra)
    assert code == 0, err
    return json_lines(out)


def secrets_in(home: Path) -> list[str]:
    return [json.loads(p.read_text())["secret_b64"] for p in (home / "keys" / "watermark").glob("wm-*.json")]


def test_generate_watermarks_and_stamps_by_default(capsys, cli_env: Path, tmp_path: Path) -> None:
    rows = generate_rows(capsys)
    for row in rows:
        assert set(row["watermark"]) == {"key_id", "scheme", "gamma", "delta"}
        assert row["watermark"]["scheme"] == "unigram"
        assert row["manifest"]["watermark"]["key_id"] == row["watermark"]["key_id"]
        assert row["manifest"]["signature"]["algorithm"] == "Ed25519"
    texts = tmp_path / "texts.jsonl"
    lines = [{"id": f"g{i}", "text": row["text"]} for i, row in enumerate(rows)]
    lines.append({"id": "all", "text": " ".join(row["text"] for row in rows)})
    texts.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out, _ = run_cli(capsys, "watermark", "detect", str(texts), "--jsonl", "--json")
    assert code == 0
    results = json_lines(out)
    assert [r["id"] for r in results] == ["g0", "g1", "g2", "g3", "all"]
    assert all(r.keys() >= DETECT_KEYS for r in results)
    assert all(r["z_score"] > 2 for r in results)
    assert results[-1]["watermarked"] and results[-1]["p_value"] < 1e-6
    assert all(r["key_id"] == rows[0]["watermark"]["key_id"] for r in results)


def test_no_watermark_flag_leaves_text_unmarked_but_stamped(capsys, cli_env: Path, tmp_path: Path) -> None:
    generate_rows(capsys)  # creates the key
    rows = generate_rows(capsys, "--no-watermark")
    assert all(row["watermark"] is None and row["manifest"]["watermark"] is None for row in rows)
    texts = tmp_path / "plain.jsonl"
    texts.write_text("".join(json.dumps({"text": row["text"]}) + "\n" for row in rows))
    code, out, _ = run_cli(capsys, "watermark", "detect", str(texts), "--jsonl")
    assert code == 0
    results = json_lines(out)
    assert [r["id"] for r in results] == [0, 1, 2, 3]
    assert not any(r["watermarked"] for r in results)


def test_manifest_verify_accepts_the_original_and_rejects_edits(capsys, cli_env: Path, tmp_path: Path) -> None:
    row = generate_rows(capsys)[0]
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(row["manifest"]))
    text = tmp_path / "text.txt"
    text.write_text(row["text"])
    code, out, _ = run_cli(capsys, "manifest", "verify", str(manifest), "--text", str(text), "--json")
    assert code == 0 and json_lines(out)[0]["valid"] is True
    text.write_text(row["text"] + " edited")
    code, out, _ = run_cli(capsys, "manifest", "verify", str(manifest), "--text", str(text), "--json")
    assert code == 1 and json_lines(out)[0]["valid"] is False
    tampered = dict(row["manifest"], requester="someone else")
    manifest.write_text(json.dumps(tampered))
    assert run_cli(capsys, "manifest", "verify", str(manifest))[0] == 1
    code, out, _ = run_cli(capsys, "keys", "public")
    assert code == 0 and out.startswith("-----BEGIN PUBLIC KEY-----")
    public = tmp_path / "public.pem"
    public.write_text(out)
    manifest.write_text(json.dumps(row["manifest"]))
    assert run_cli(capsys, "manifest", "verify", str(manifest), "--public-key", str(public))[0] == 0


def test_manifest_verify_reads_the_text_file_byte_for_byte(capsys, clean_env: Path, tmp_path: Path) -> None:
    """A sampled generation can contain carriage returns; reading the file with universal newlines would turn
    them into line feeds and call the genuine text edited."""
    from generator.stamping import build_manifest, sign_manifest
    from provenance.signing import load_or_create_signing_key

    text = "First line\r\nsecond line\rthird line\n"
    body = build_manifest(text=text, prompt="Invented", model={"name": "invented"}, decoding={}, watermark=None)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(sign_manifest(body, load_or_create_signing_key(clean_env))))
    source = tmp_path / "text.txt"
    source.write_bytes(text.encode("utf-8"))
    code, out, _ = run_cli(capsys, "manifest", "verify", str(manifest), "--text", str(source), "--json")
    assert code == 0 and json_lines(out)[0]["valid"] is True
    source.write_bytes(text.replace("\r\n", "\n").encode("utf-8"))
    code, out, _ = run_cli(capsys, "manifest", "verify", str(manifest), "--text", str(source), "--json")
    assert code == 1 and "text does not match" in json_lines(out)[0]["reason"]


def test_rotation_keeps_old_text_detectable_and_secrets_never_print(capsys, cli_env: Path, tmp_path: Path) -> None:
    rows = generate_rows(capsys)
    old_key = rows[0]["watermark"]["key_id"]
    outputs = [run_cli(capsys, "keys", "rotate", "--json")]
    outputs.append(run_cli(capsys, "keys", "list", "--json"))
    listed = json_lines(outputs[-1][1])
    assert {k["key_id"]: k["status"] for k in listed}[old_key] == "verify"
    assert sum(k["status"] == "active" for k in listed) == 1
    texts = tmp_path / "texts.jsonl"  # all four samples as one document: enough tokens for two keys' correction
    texts.write_text(json.dumps({"text": " ".join(row["text"] for row in rows)}) + "\n")
    outputs.append(run_cli(capsys, "watermark", "detect", str(texts), "--jsonl"))
    (result,) = json_lines(outputs[-1][1])
    assert result["watermarked"] and result["key_id"] == old_key and result["keys_tested"] == 2
    new_rows = generate_rows(capsys)
    assert new_rows[0]["watermark"]["key_id"] != old_key
    outputs.append(run_cli(capsys, "keys", "list"))
    for secret in secrets_in(cli_env):
        for _, out, err in outputs:
            assert secret not in out and secret not in err
        assert secret not in json.dumps(new_rows)
    for path in (cli_env / "keys" / "watermark").glob("*.json"):
        assert path.stat().st_mode & 0o077 == 0
    assert (cli_env / "keys" / "signing_ed25519.pem").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("content", [b"", b"   \n\t ", "🙂🙂🙂".encode(), b"\xff\xfe\x00bad bytes \xc3\x28"])
def test_detect_bad_input_is_a_clear_result(capsys, cli_env: Path, tmp_path: Path, content: bytes) -> None:
    generate_rows(capsys)
    source = tmp_path / "input.txt"
    source.write_bytes(content)
    code, out, err = run_cli(capsys, "watermark", "detect", str(source), "--json")
    assert "Traceback" not in err
    if code == 0:
        result = json_lines(out)[0]
        assert result["watermarked"] is False and result["abstain"] is True and result["reason"]
    else:
        assert_clean_failure(code, err)


def test_detect_without_any_key_names_the_fix(capsys, clean_env: Path, micro_model_dir: Path, tmp_path: Path,
                                             monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    source = tmp_path / "input.txt"
    source.write_text("some text")
    code, _, err = run_cli(capsys, "watermark", "detect", str(source))
    assert_clean_failure(code, err)
    assert "provenance keys create" in err


def test_windowed_detection_reports_character_spans(capsys, clean_env: Path, micro_model_dir: Path,
                                                     monkeypatch, tmp_path: Path) -> None:
    """With a fixed key: the micro model's tokenizer knows a few hundred tokens and each distinct token is
    scored once, so how far a span's edge drifts into the surrounding text varies from key to key."""
    monkeypatch.setattr("watermark.keys.new_secret", lambda: bytes(range(32)))
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    assert run_cli(capsys, "keys", "create", "--delta", "6")[0] == 0
    rows = generate_rows(capsys)
    marked = " ".join(row["text"] for row in rows)
    from testkit.texts import synthetic_paragraphs

    human = " ".join(synthetic_paragraphs(12, seed=42))
    mixed = human + " " + marked + " " + human
    source = tmp_path / "mixed.jsonl"
    source.write_text(json.dumps({"id": "m", "text": mixed}) + "\n")
    code, out, _ = run_cli(capsys, "watermark", "detect", str(source), "--jsonl", "--windowed")
    assert code == 0
    (result,) = json_lines(out)
    assert result["spans"], result
    span = result["spans"][0]
    start, end = len(human) + 1, len(human) + 1 + len(marked)
    overlap = min(end, span["end"]) - max(start, span["start"])
    assert overlap > 0.5 * (span["end"] - span["start"])
    assert 0 < span["p_value"] < 1e-3


def test_detect_at_a_chosen_false_positive_rate(capsys, cli_env: Path, tmp_path: Path) -> None:
    rows = generate_rows(capsys)
    source = tmp_path / "texts.jsonl"
    lines = [{"id": "all", "text": " ".join(row["text"] for row in rows)}, {"id": "short", "text": "Three words only"}]
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out, err = run_cli(capsys, "watermark", "detect", str(source), "--jsonl", "--fpr", "1e-3")
    assert code == 0, err
    marked, short = json_lines(out)
    assert marked.keys() >= DETECT_KEYS and marked["watermarked"] and marked["p_value"] < 1e-3
    assert marked["fpr"] == 1e-3 and marked["p_value_threshold"] == 1e-3 and marked["scheme"] == "unigram"
    assert marked["too_short"] is False and marked["min_tokens_required"] == 16
    assert short["too_short"] is True and short["watermarked"] is False and short["p_value"] is None
    assert "too short" in short["reason"]
    strict = tmp_path / "short.txt"
    strict.write_text(" ".join(row["text"] for row in rows))
    code, out, _ = run_cli(capsys, "watermark", "detect", str(strict), "--fpr", "1e-30")
    assert code == 0 and "(needs 50 at fpr=1e-30)" in " ".join(out.split())
    code, out, _ = run_cli(capsys, "watermark", "detect", str(strict), "--json")
    default = json_lines(out)[0]
    assert default["fpr"] is None and default["p_value_threshold"] < 4e-5


@pytest.mark.parametrize("value", ["0", "1", "-0.1", "1.5", "nan"])
def test_detect_rejects_a_bad_fpr(capsys, cli_env: Path, tmp_path: Path, value: str) -> None:
    source = tmp_path / "input.txt"
    source.write_text("some text")
    code, _, err = run_cli(capsys, "watermark", "detect", str(source), "--fpr", value)
    assert_clean_failure(code, err)
    assert "--fpr" in err
