"""ONNX Runtime scorer: same scores as torch, export cached by weights hash, bad exports refused clearly."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from detect.errors import DetectionError
from detect.onnx_scorer import (
    EXPORT_CARD,
    ONNX_FILE,
    OnnxExportError,
    OnnxPerplexityScorer,
    build_scorer,
    ensure_export,
    export_dir,
    verify_export,
)
from detect.perplexity import STATISTICS, PerplexityScorer
from generator import ModelRequest, load_model
from testkit.texts import synthetic_paragraphs
from tests.cli_support import assert_clean_failure, run_cli


@pytest.fixture(scope="module")
def texts() -> list[str]:
    paragraphs = synthetic_paragraphs(8, seed=3)
    long_text = " ".join(synthetic_paragraphs(8, seed=4))  # several micro contexts: sliding windows
    return [paragraphs[0], "Short.", long_text, *paragraphs[1:6]]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory: pytest.TempPathFactory, micro_model) -> Path:
    """Same shape and tokenizer as the micro model, different (random) weights: 'another model version'."""
    torch.manual_seed(1)
    config = micro_model.model.config
    directory = tmp_path_factory.mktemp("other-model")
    GPT2LMHeadModel(GPT2Config(vocab_size=config.vocab_size, n_positions=config.n_positions, n_embd=config.n_embd,
                               n_layer=config.n_layer, n_head=config.n_head, bos_token_id=config.bos_token_id,
                               eos_token_id=config.eos_token_id)).save_pretrained(directory)
    micro_model.tokenizer.save_pretrained(directory)
    return directory


def test_onnx_fp32_scores_match_torch(micro_model, texts: list[str], onnx_cache: Path) -> None:
    torch_scorer = PerplexityScorer(micro_model, batch_tokens=256)
    onnx_scorer = build_scorer(micro_model, backend="onnx", batch_tokens=256, cache_root=onnx_cache)
    assert isinstance(onnx_scorer, OnnxPerplexityScorer)
    assert onnx_scorer.providers == ["CPUExecutionProvider"]
    for ours, ref in zip(onnx_scorer.token_scores(texts), torch_scorer.token_scores(texts), strict=True):
        np.testing.assert_allclose(ours.log_likelihood, ref.log_likelihood, atol=1e-3)
        np.testing.assert_allclose(ours.entropy, ref.entropy, atol=1e-3)
        np.testing.assert_allclose(ours.variance, ref.variance, atol=1e-3)
        assert (ours.rank == ref.rank).mean() > 0.99
    for ours, ref in zip(onnx_scorer.statistics(texts), torch_scorer.statistics(texts), strict=True):
        for name in STATISTICS:
            a, b = getattr(ours, name), getattr(ref, name)
            assert (math.isnan(a) and math.isnan(b)) or abs(a - b) < 1e-3, name
    # Documented decision: fp32 ONNX is equivalent, so it shares the torch identity (bundles keep working).
    assert onnx_scorer.identity == torch_scorer.identity


def test_export_is_cached_under_the_weights_hash(micro_model, onnx_cache: Path) -> None:
    directory = ensure_export(onnx_cache, micro_model, "fp32")
    assert directory == export_dir(onnx_cache, micro_model, "fp32")
    assert directory.name.startswith(micro_model.weights_sha256[:16])
    card = json.loads((directory / EXPORT_CARD).read_text())
    assert card["weights_sha256"] == micro_model.weights_sha256
    stamp = (directory / ONNX_FILE).stat().st_mtime_ns
    assert ensure_export(onnx_cache, micro_model, "fp32") == directory
    assert (directory / ONNX_FILE).stat().st_mtime_ns == stamp  # reused, not re-exported


def test_int8_scores_are_close_and_have_their_own_identity(micro_model, texts: list[str], onnx_cache: Path) -> None:
    int8 = build_scorer(micro_model, backend="onnx", quantize="int8", cache_root=onnx_cache)
    fp32 = PerplexityScorer(micro_model)
    assert int8.identity != fp32.identity and "onnxruntime-int8" in int8.identity
    a = np.array([s.log_likelihood for s in int8.statistics(texts)])
    b = np.array([s.log_likelihood for s in fp32.statistics(texts)])
    assert np.all(np.isfinite(a)) and np.max(np.abs(a - b)) < 0.25


def test_torch_int8_backend_quantizes_a_float_model(micro_model_dir: Path, texts: list[str]) -> None:
    lm = load_model(str(micro_model_dir), ModelRequest(device="cpu", offline=True))
    scorer = build_scorer(lm, backend="torch", quantize="int8")
    assert lm.quantized == "int8" and "|q=int8|" in scorer.identity
    assert all(math.isfinite(s.log_likelihood) for s in scorer.statistics(texts[:2]))


def test_export_of_another_model_is_refused(micro_model, other_model_dir: Path, tmp_path: Path) -> None:
    other = load_model(str(other_model_dir), ModelRequest(device="cpu", offline=True))
    foreign = ensure_export(tmp_path / "a", other, "fp32")
    target = export_dir(tmp_path / "b", micro_model, "fp32")
    shutil.copytree(foreign, target)  # e.g. a cache copied from a machine with another model version
    with pytest.raises(OnnxExportError, match="made for another model: weights_sha256"):
        build_scorer(micro_model, backend="onnx", cache_root=tmp_path / "b")


def test_corrupt_onnx_file_is_refused(micro_model, tmp_path: Path) -> None:
    directory = ensure_export(tmp_path, micro_model, "fp32")
    onnx_path = directory / ONNX_FILE
    onnx_path.write_bytes(onnx_path.read_bytes()[:1000])
    with pytest.raises(OnnxExportError, match="corrupt"):
        verify_export(directory, micro_model, "fp32")
    # Even with a matching hash (the card rewritten too), ORT's parse failure becomes a clear error.
    card = json.loads((directory / EXPORT_CARD).read_text())
    import hashlib

    card["onnx_sha256"] = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    (directory / EXPORT_CARD).write_text(json.dumps(card))
    with pytest.raises(OnnxExportError, match="could not load") as raised:
        build_scorer(micro_model, backend="onnx", cache_root=tmp_path)
    assert str(directory) in raised.value.hint


def test_bad_backend_settings_are_clear_errors(micro_model, tmp_path: Path) -> None:
    with pytest.raises(DetectionError, match="unknown scorer backend"):
        build_scorer(micro_model, backend="tensorrt", cache_root=tmp_path)
    quantized = load_model(str(micro_model.path), ModelRequest(device="cpu", quantize="int8", offline=True))
    with pytest.raises(OnnxExportError, match="float model"):
        build_scorer(quantized, backend="onnx", cache_root=tmp_path)


def test_detection_service_picks_the_backend_from_settings(clean_env: Path, micro_model_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from provenance.detection import DetectionService
    from provenance.settings import Settings

    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    monkeypatch.setenv("PROVENANCE_SCORER_BACKEND", "onnx")
    service = DetectionService(Settings())
    assert isinstance(service.scorer, OnnxPerplexityScorer)
    assert service.scorer.export.parent == clean_env / "cache" / "onnx"


def test_cli_reports_a_corrupt_export_as_error_and_hint(capsys, clean_env: Path, micro_model_dir: Path,
                                                        detect_data_file: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    monkeypatch.setenv("PROVENANCE_SCORER_QUANTIZE", "none")  # an fp32 bundle: the fp32 ONNX export must match it
    code, _, err = run_cli(capsys, "detect", "train", str(detect_data_file), "--out", "b", "--json")
    assert code == 0, err
    monkeypatch.setenv("PROVENANCE_SCORER_BACKEND", "onnx")
    lm = load_model(str(micro_model_dir), ModelRequest(device="cpu", offline=True))
    directory = ensure_export(clean_env / "cache" / "onnx", lm, "fp32")
    (directory / ONNX_FILE).write_bytes(b"not an onnx file")
    texts = tmp_path / "in.jsonl"
    texts.write_text(json.dumps({"text": "The old captain walked toward the harbour."}) + "\n")
    code, _, err = run_cli(capsys, "detect", "score", str(texts), "--bundle", "b", "--json")
    assert code == 2
    assert_clean_failure(code, err)
    assert "corrupt" in err and "hint:" in err


def test_auto_quantization_is_int8_on_cpu_and_follows_the_bundle(micro_model_dir: Path, clean_env: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from provenance.detection import DetectionService
    from provenance.settings import Settings

    lm = load_model(str(micro_model_dir), ModelRequest(device="cpu", offline=True))
    assert "|q=int8|" in build_scorer(lm, quantize="auto").identity
    assert Settings().scorer_quantize == "auto"
    bundle = clean_env / "detectors" / "default"
    bundle.mkdir(parents=True)
    (bundle / "card.json").write_text(json.dumps({"scorer": {"statistics": "stats-v3|x|q=none|dtype=float32"}}))
    assert DetectionService(Settings())._quantize() == "none"
    assert DetectionService(Settings())._quantize(for_training=True) == "auto"
    monkeypatch.setenv("PROVENANCE_SCORER_QUANTIZE", "int8")
    assert DetectionService(Settings())._quantize() == "int8"


def test_a_service_given_a_model_scores_with_a_private_int8_copy(micro_model_dir: Path, clean_env: Path) -> None:
    """The demo hands its generation model to the service: scoring must use the default int8 path without
    quantizing the model the demo goes on generating with."""
    from provenance.detection import DetectionService
    from provenance.settings import Settings

    lm = load_model(str(micro_model_dir), ModelRequest(device="cpu", offline=True))
    scorer = DetectionService(Settings(), lm=lm, for_training=True).scorer
    assert "|q=int8|" in scorer.identity
    assert not lm.quantized and scorer.lm is not lm and scorer.lm.model is not lm.model
