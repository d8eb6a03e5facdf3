from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator import CorpusError, ModelRequest, SamplingConfig, generate, load_model
from generator.bootstrap import get_preset, train_bootstrap_model
from generator.bootstrap.corpus import is_heldout, read_corpus
from generator.errors import GeneratorError


def test_micro_bootstrap_saves_a_loadable_checkpoint_with_a_model_card(micro_model_dir: Path) -> None:
    card = json.loads((micro_model_dir / "model_card.json").read_text())
    for key in ("parameters", "tokens_seen", "heldout_perplexity", "heldout_bits_per_byte", "wall_seconds",
                "corpus", "preset", "seed"):
        assert key in card
    assert card["steps"] == 120
    assert len(card["corpus"]["sha256"]) == 64
    assert (micro_model_dir / "README.md").read_text().startswith("# Bootstrap GPT-2")
    loaded = load_model(str(micro_model_dir), ModelRequest(device="cpu"))
    assert loaded.parameters == card["parameters"]
    assert loaded.tokenizer.eos_token == "<|endoftext|>"


def test_the_micro_model_learnt_the_corpus(micro_model_dir: Path) -> None:
    """Perplexity far below the vocabulary size means it is a language model, not noise."""
    card = json.loads((micro_model_dir / "model_card.json").read_text())
    assert card["heldout_perplexity"] < card["vocab_size"] / 10
    assert card["final_train_loss"] < 4.0


def test_micro_model_generates_words_from_its_corpus(micro_model) -> None:
    text = generate(micro_model, ["The old captain"], SamplingConfig(max_new_tokens=30, do_sample=False))[0].text
    assert any(word in text for word in ("the", "a", "at", "with"))


def test_heldout_split_is_deterministic_by_paragraph_hash(synthetic_corpus: Path) -> None:
    corpus = read_corpus(synthetic_corpus)
    again = read_corpus(synthetic_corpus)
    assert corpus.heldout == again.heldout and corpus.fingerprint == again.fingerprint
    assert all(is_heldout(p, 1) for p in corpus.heldout)
    assert not set(corpus.heldout) & set(corpus.train)


def test_empty_corpus_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no .txt files"):
        read_corpus(tmp_path)


def test_missing_corpus_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(tmp_path / "nope")


def test_binary_files_are_skipped_and_a_corpus_of_only_binary_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(bytes(range(256)) * 10)
    (tmp_path / "b.txt").write_bytes(b"\xff\xfe\xfa" * 100)
    with pytest.raises(CorpusError, match="no usable text"):
        read_corpus(tmp_path)
    (tmp_path / "c.txt").write_text("A real paragraph of text.\n\nAnother one here.\n")
    corpus = read_corpus(tmp_path)
    assert [p.name for p in corpus.files] == ["c.txt"]
    assert {p.name for p, _ in corpus.skipped} == {"a.txt", "b.txt"}


def test_corpus_of_empty_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("\n\n   \n")
    with pytest.raises(CorpusError, match="empty"):
        read_corpus(tmp_path)


def test_a_corpus_too_small_to_fill_one_block_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Tiny.\n\nText.\n")
    with pytest.raises(CorpusError, match="tokens"):
        train_bootstrap_model(tmp_path, tmp_path / "out", get_preset("micro"), max_steps=2)


def test_unknown_preset_is_a_clear_error() -> None:
    with pytest.raises(GeneratorError, match="unknown preset"):
        get_preset("huge")


def test_time_budget_stops_training_and_still_saves(tmp_path: Path, synthetic_corpus: Path) -> None:
    out = tmp_path / "timed"
    result = train_bootstrap_model(synthetic_corpus, out, get_preset("micro"), max_minutes=0.25, seed=1)
    assert result.card["steps"] > 0
    assert (out / "model.safetensors").is_file()
    assert not (tmp_path / "timed.partial").exists()
