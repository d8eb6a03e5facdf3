"""Distillation and LoRA adaptation: loadable outputs with cards, adapters by setting, watermark survives."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
from pathlib import Path

import pytest
import torch

from generator import ModelRequest, load_model
from generator.bootstrap import get_preset
from generator.distill import distill_model, distillation_loss
from generator.errors import GeneratorError
from generator.lora import ADAPTER_CARD, AdapterError, adapt_generator
from tests.cli_support import assert_clean_failure, json_lines, run_cli

DOMAIN_SENTENCES = ["The ship sailed into the harbour at noon.", "Sailors unloaded grain and salt on the quay.",
                    "The harbour master counted every barrel twice.", "Gulls circled the masts of the ship."]


@pytest.fixture(scope="module")
def domain_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 'domain' the micro model has never seen: harbour sentences in a fixed vocabulary."""
    import random

    rng = random.Random(4)
    root = tmp_path_factory.mktemp("domain")
    paragraphs = [" ".join(rng.choice(DOMAIN_SENTENCES) for _ in range(4)) for _ in range(400)]
    (root / "harbour.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory: pytest.TempPathFactory, micro_model_dir: Path, domain_corpus: Path) -> Path:
    base = load_model(str(micro_model_dir), ModelRequest(device="cpu", offline=True))
    out = tmp_path_factory.mktemp("adapters") / "harbour"
    adapt_generator(base, domain_corpus, out, rank=4, max_steps=30, learning_rate=1e-2, eval_tokens=2048)
    return out


def test_distillation_loss_is_the_lm_loss_when_student_equals_teacher() -> None:
    logits = torch.randn(12, 50)
    labels = torch.randint(0, 50, (12,))
    total, lm_loss = distillation_loss(logits, logits.clone(), labels, temperature=2.0, alpha=0.5)
    assert total.item() == pytest.approx(0.5 * lm_loss.item(), abs=1e-5)


def test_distill_writes_a_loadable_student_with_a_card(micro_model, synthetic_corpus: Path, tmp_path: Path) -> None:
    preset = dataclasses.replace(get_preset("micro"), n_layer=1, n_embd=32, n_head=2, eval_tokens=1024)
    result = distill_model(micro_model, synthetic_corpus, tmp_path / "student", preset, max_steps=6)
    card = json.loads((result.output_dir / "model_card.json").read_text())
    assert card["method"] == "distillation" and card["teacher"]["weights_sha256"] == micro_model.weights_sha256
    assert card["heldout_perplexity"] > 0 and card["steps"] == 6
    assert (result.output_dir / "README.md").read_text().startswith("# Distilled GPT-2")
    student = load_model(str(result.output_dir), ModelRequest(device="cpu", offline=True))
    assert student.vocab_size == micro_model.vocab_size
    assert student.context_length == micro_model.context_length
    assert student.parameters < micro_model.parameters


def test_a_student_kept_from_teacher_blocks_starts_as_those_blocks(micro_model, synthetic_corpus: Path,
                                                                     tmp_path: Path) -> None:
    from generator.distill import student_from_layers

    student = student_from_layers(micro_model, [1])
    assert student.config.n_layer == 1 and student.config.n_embd == micro_model.model.config.n_embd
    assert torch.equal(student.transformer.h[0].attn.c_attn.weight,
                       micro_model.model.transformer.h[1].attn.c_attn.weight.float())
    assert torch.equal(student.lm_head.weight, student.transformer.wte.weight)  # still tied
    with pytest.raises(GeneratorError, match="distinct teacher blocks"):
        student_from_layers(micro_model, [0, 0])
    with pytest.raises(GeneratorError, match="not a smaller student"):
        student_from_layers(micro_model, [0, 1])
    result = distill_model(micro_model, synthetic_corpus, tmp_path / "kept", get_preset("micro"), max_steps=3,
                           keep_layers=[1])
    card = json.loads((result.output_dir / "model_card.json").read_text())
    assert card["initialised_from_teacher_layers"] == [1] and card["preset"]["n_layer"] == 1
    assert card["preset"]["learning_rate"] == pytest.approx(get_preset("micro").learning_rate / 10)
    assert load_model(str(result.output_dir), ModelRequest(device="cpu", offline=True)).vocab_size == \
        micro_model.vocab_size


def test_distill_cli_refuses_unreadable_keep_layers(capsys, clean_env: Path, micro_model_dir: Path,
                                                    synthetic_corpus: Path) -> None:
    code, _, err = run_cli(capsys, "model", "distill", "--teacher", str(micro_model_dir), "--corpus",
                           str(synthetic_corpus), "--keep-layers", "first,last", "--max-steps", "1")
    assert_clean_failure(code, err)
    assert code == 2 and "--keep-layers" in err and "hint:" in err


def test_distill_cli_refuses_a_student_not_smaller_than_the_teacher(capsys, clean_env: Path, micro_model_dir: Path,
                                                                    synthetic_corpus: Path) -> None:
    code, _, err = run_cli(capsys, "model", "distill", "--teacher", str(micro_model_dir), "--corpus",
                           str(synthetic_corpus), "--preset", "micro", "--max-steps", "1")
    assert_clean_failure(code, err)
    assert code == 2 and "not smaller than the teacher" in err


def test_adapter_is_saved_alone_and_improves_domain_perplexity(adapter_dir: Path, micro_model) -> None:
    files = {p.name for p in adapter_dir.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", ADAPTER_CARD} <= files
    assert "model.safetensors" not in files  # only the adapter, never a copy of the base
    card = json.loads((adapter_dir / ADAPTER_CARD).read_text())
    assert card["base"]["weights_sha256"] == micro_model.weights_sha256
    assert card["domain_perplexity_after"] < card["domain_perplexity_before"]


def test_adapter_loads_by_setting_with_its_own_identity(clean_env: Path, micro_model_dir: Path, adapter_dir: Path,
                                                        micro_model, monkeypatch) -> None:
    from provenance.runtime import load_configured_model
    from provenance.settings import Settings

    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    monkeypatch.setenv("PROVENANCE_ADAPTER", str(adapter_dir))
    lm = load_configured_model(Settings())
    assert lm.name.endswith("+lora:harbour")
    assert lm.weights_sha256 != micro_model.weights_sha256
    assert not any("lora" in name for name, _ in lm.model.named_modules())  # merged into plain GPT-2 weights
    diff = (lm.model.transformer.h[0].attn.c_attn.weight - micro_model.model.transformer.h[0].attn.c_attn.weight)
    assert diff.abs().max() > 0


def test_adapter_for_another_base_is_refused(capsys, clean_env: Path, micro_model_dir: Path, adapter_dir: Path,
                                             tmp_path: Path, monkeypatch) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for path in adapter_dir.iterdir():
        (foreign / path.name).write_bytes(path.read_bytes())
    card = json.loads((foreign / ADAPTER_CARD).read_text())
    card["base"] = {"name": "gpt2-medium", "weights_sha256": "ab" * 32}
    (foreign / ADAPTER_CARD).write_text(json.dumps(card))
    with pytest.raises(AdapterError, match="trained for base model gpt2-medium"):
        load_model(str(micro_model_dir), ModelRequest(device="cpu", offline=True, adapter=str(foreign)))
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    monkeypatch.setenv("PROVENANCE_ADAPTER", str(foreign))
    code, _, err = run_cli(capsys, "model", "info", "--json")
    assert code == 2 and "gpt2-medium" in err and "hint:" in err
    monkeypatch.setenv("PROVENANCE_ADAPTER", str(tmp_path / "missing"))
    code, _, err = run_cli(capsys, "model", "info", "--json")
    assert code == 2 and "no LoRA adapter" in err


def test_watermark_is_detected_on_adapted_output(capsys, clean_env: Path, micro_model_dir: Path, adapter_dir: Path,
                                                 monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    monkeypatch.setenv("PROVENANCE_ADAPTER", str(adapter_dir))
    # A fixed secret makes the run reproducible: with a random one the adapted micro model (low entropy on its
    # memorised domain) gave combined z from 6.9 to 10.1 over five keys, a margin but not a certainty.
    monkeypatch.setattr("watermark.keys.new_secret", lambda: hashlib.sha256(b"adapted-output-test").digest())
    assert run_cli(capsys, "keys", "create", "--delta", "6")[0] == 0
    code, out, err = run_cli(capsys, "generate", "--prompt", "The ship", "--n", "6", "--max-new-tokens", "56",
                             "--min-new-tokens", "56", "--top-k", "0", "--temperature", "1.3", "--seed", "3", "--json")
    assert code == 0, err
    rows = json_lines(out)
    assert rows[0]["manifest"]["model"]["name"].endswith("+lora:harbour")
    texts = tmp_path / "texts.jsonl"
    lines = [{"id": i, "text": row["text"]} for i, row in enumerate(rows)]
    lines.append({"id": "all", "text": " ".join(row["text"] for row in rows)})
    texts.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out, _ = run_cli(capsys, "watermark", "detect", str(texts), "--jsonl", "--json")
    assert code == 0
    results = json_lines(out)
    # One 56-token text from a low-entropy model can land near z = 0 (seen: -0.2 to 8.7 over keys): the claim is
    # judged on the typical text and on the six together, not on the unluckiest one.
    assert statistics.median(result["z_score"] for result in results[:-1]) > 2  # criterion of test_cli_watermark
    assert results[-1]["watermarked"]  # the six texts together pass the default z = 4 rule


def test_adapt_rejects_bad_rank(micro_model, domain_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="rank"):
        adapt_generator(micro_model, domain_corpus, tmp_path / "a", rank=0, max_steps=1)
