from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
import torch
from transformers import BertConfig

from generator import ModelNotFoundError, ModelRequest, load_model, resolve_model
from generator.devices import resolve_device, resolve_dtype
from generator.errors import GeneratorError

CONTRACT_KEYS = {"name", "source", "parameters", "vocab_size", "device", "dtype"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_load_by_path_reports_the_contract_fields(micro_model_dir: Path) -> None:
    loaded = load_model(str(micro_model_dir), ModelRequest(device="cpu"))
    info = loaded.info()
    assert info.keys() >= CONTRACT_KEYS
    assert info["source"] == "path"
    assert info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["parameters"] == sum(p.numel() for p in loaded.model.parameters())
    assert info["vocab_size"] == loaded.model.config.vocab_size
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.tokenizer.pad_token_id == loaded.tokenizer.eos_token_id
    assert len(loaded.weights_sha256 or "") == 64


@pytest.mark.parametrize("make", ["missing", "empty", "no_weights"])
def test_bad_model_directories_are_clear_errors(tmp_path: Path, micro_model_dir: Path, make: str) -> None:
    target = tmp_path / "model"
    if make == "empty":
        target.mkdir()
    elif make == "no_weights":
        shutil.copytree(micro_model_dir, target)
        (target / "model.safetensors").unlink()
    with pytest.raises(ModelNotFoundError) as caught:
        load_model(str(target))
    assert caught.value.hint


def test_non_gpt2_checkpoints_are_refused(tmp_path: Path) -> None:
    BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
               intermediate_size=8).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(GeneratorError, match="not a GPT-2-family checkpoint"):
        load_model(str(tmp_path), ModelRequest(device="cpu"))


def test_default_resolution_lists_every_attempt_and_the_fix(tmp_path: Path) -> None:
    request = ModelRequest(bootstrap_dir=tmp_path / "nothing-here", offline=True)
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_model(request)
    message = str(caught.value)
    assert "gpt2 in the Hugging Face cache: not found" in message
    assert "offline" in message and "bootstrap model" in message
    assert "provenance model bootstrap --corpus" in (caught.value.hint or "")


def test_unreachable_hub_falls_through_to_the_bootstrap_model(monkeypatch, tmp_path: Path,
                                                              micro_model_dir: Path) -> None:
    monkeypatch.setattr("generator.hub.hub_constants.ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    bootstrap_dir = tmp_path / "bootstrap"
    shutil.copytree(micro_model_dir, bootstrap_dir)
    loaded = resolve_model(ModelRequest(bootstrap_dir=bootstrap_dir, device="cpu", hub_timeout=2.0))
    assert loaded.source == "bootstrap"
    assert any("unreachable" in attempt for attempt in loaded.attempts)


def test_named_model_not_cached_and_hub_down_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr("generator.hub.hub_constants.ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ModelNotFoundError, match="unreachable"):
        load_model("gpt2-medium", ModelRequest(name="gpt2-medium", hub_timeout=2.0))


def test_gpt2_in_the_local_hub_cache_is_used_first(monkeypatch, tmp_path: Path, micro_model_dir: Path) -> None:
    cache = tmp_path / "hub"
    snapshot = cache / "models--gpt2" / "snapshots" / "0123abcd"
    shutil.copytree(micro_model_dir, snapshot)
    (cache / "models--gpt2" / "refs").mkdir(parents=True)
    (cache / "models--gpt2" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    loaded = resolve_model(ModelRequest(bootstrap_dir=tmp_path / "unused", device="cpu", offline=True))
    assert (loaded.name, loaded.source) == ("gpt2", "hub-cache")


def test_devices_and_dtypes() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(GeneratorError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(GeneratorError):
        resolve_dtype("float8", torch.device("cpu"))
