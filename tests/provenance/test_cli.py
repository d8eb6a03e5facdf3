"""The command line as users and their scripts see it: contract JSON keys, exit codes, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli_support import PROVENANCE_BIN, assert_clean_failure, json_lines, run_cli

REPO = Path(__file__).resolve().parents[2]


def test_model_info_json_contract(capsys, clean_env, micro_model_dir: Path) -> None:
    code, out, _ = run_cli(capsys, "model", "info", "--model", str(micro_model_dir), "--json")
    assert code == 0
    (info,) = json_lines(out)
    assert info["source"] == "path"
    assert isinstance(info["parameters"], int) and isinstance(info["vocab_size"], int)
    assert {"name", "device", "dtype"} <= info.keys()


def test_model_info_finds_the_bootstrap_model_in_the_data_directory(capsys, clean_env, micro_model_dir) -> None:
    import shutil

    shutil.copytree(micro_model_dir, clean_env / "models" / "bootstrap")
    code, out, _ = run_cli(capsys, "model", "info", "--json")
    assert code == 0 and json_lines(out)[0]["source"] == "bootstrap"


def test_generate_json_contract_for_prompt_and_prompts_file(capsys, clean_env, micro_model_dir, tmp_path,
                                                           monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    code, out, _ = run_cli(capsys, "generate", "--prompt", "The king", "--n", "3", "--max-new-tokens", "7",
                           "--seed", "5", "--json")
    assert code == 0
    rows = json_lines(out)
    assert len(rows) == 3
    for row in rows:
        assert row["prompt"] == "The king" and isinstance(row["text"], str) and 0 < row["tokens"] <= 7
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "My sister"}\n\n{"prompt": "The river"}\n')
    code, out, _ = run_cli(capsys, "generate", "--prompts", str(prompts), "--max-new-tokens", "5", "--json")
    assert code == 0
    assert [row["prompt"] for row in json_lines(out)] == ["My sister", "The river"]


def test_generate_is_reproducible_with_a_seed(capsys, clean_env, micro_model_dir) -> None:
    args = ("generate", "--model", str(micro_model_dir), "--prompt", "A young doctor", "--seed", "11", "--json")
    first = run_cli(capsys, *args)[1]
    second = run_cli(capsys, *args)[1]
    assert json_lines(first) == json_lines(second)


@pytest.mark.parametrize(
    "args",
    [
        ("generate", "--prompt", "hi", "--max-new-tokens", "0", "--json"),
        ("generate", "--prompt", "hi", "--max-new-tokens", "-5", "--json"),
        ("generate", "--json"),
        ("generate", "--prompt", "hi", "--prompts", "x.jsonl"),
        ("generate", "--prompts", "does-not-exist.jsonl"),
        ("generate", "--prompt", "hi", "--n", "0"),
        ("model", "info", "--model", "/no/such/model/dir"),
        ("model", "info", "--model", "not-a-real-hub-model-name"),
        ("model", "bootstrap", "--corpus", "/no/such/corpus"),
        ("model", "bootstrap", "--corpus", ".", "--preset", "gigantic"),
        ("model", "bootstrap", "--corpus", ".", "--max-minutes", "0"),
    ],
)
def test_bad_input_is_one_clear_error_and_a_non_zero_exit(capsys, clean_env, micro_model_dir, args,
                                                         monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    code, _, err = run_cli(capsys, *args)
    assert_clean_failure(code, err)


def test_prompt_longer_than_the_context_window(capsys, clean_env, micro_model_dir) -> None:
    code, _, err = run_cli(capsys, "generate", "--model", str(micro_model_dir), "--prompt", "word " * 500)
    assert_clean_failure(code, err)
    assert "context" in err


def test_bad_prompts_file_lines_are_named(capsys, clean_env, micro_model_dir, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok"}\n{not json\n')
    code, _, err = run_cli(capsys, "generate", "--model", str(micro_model_dir), "--prompts", str(bad))
    assert_clean_failure(code, err)
    assert "bad.jsonl:2" in err


def test_bootstrap_rejects_empty_and_binary_corpora(capsys, clean_env, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(capsys, "model", "bootstrap", "--corpus", str(empty), "--preset", "micro")
    assert_clean_failure(code, err)
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / "blob.txt").write_bytes(os.urandom(4096) + b"\x00")
    code, _, err = run_cli(capsys, "model", "bootstrap", "--corpus", str(binary), "--preset", "micro")
    assert_clean_failure(code, err)
    assert "no usable text" in err


def test_no_model_anywhere_names_the_fixing_command(capsys, clean_env) -> None:
    code, _, err = run_cli(capsys, "model", "info")
    assert_clean_failure(code, err)
    assert "provenance model bootstrap" in err


def test_config_show_json_hides_secrets(capsys, clean_env, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_HF_TOKEN", "hf_topsecret")
    code, out, _ = run_cli(capsys, "config", "show", "--json")
    assert code == 0
    view = json_lines(out)[0]
    assert view["home"] == str(clean_env.resolve())
    assert "hf_topsecret" not in out


def test_invalid_setting_is_a_clear_error(capsys, clean_env, monkeypatch) -> None:
    monkeypatch.setenv("PROVENANCE_DEVICE", "tpu")
    code, _, err = run_cli(capsys, "config", "show")
    assert_clean_failure(code, err)
    assert "device" in err


def test_installed_console_script_runs_end_to_end(tmp_path, micro_model_dir, synthetic_corpus) -> None:
    """The real entry point in a subprocess: bootstrap into the data dir, then generate from it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env.update(PROVENANCE_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1")
    boot = subprocess.run([str(PROVENANCE_BIN), "model", "bootstrap", "--corpus", str(synthetic_corpus),
                           "--preset", "micro", "--max-steps", "20", "--json"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert boot.returncode == 0, boot.stderr
    card = json.loads(boot.stdout)
    assert card["steps"] == 20 and Path(card["output_dir"]) == (tmp_path / "home" / "models" / "bootstrap")
    gen = subprocess.run([str(PROVENANCE_BIN), "generate", "--prompt", "The river", "--max-new-tokens", "6",
                          "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert gen.returncode == 0, gen.stderr
    row = json.loads(gen.stdout.splitlines()[0])
    assert set(row) >= {"prompt", "text", "tokens"}
