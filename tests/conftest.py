"""Shared fixtures: an offline environment and a micro GPT-2 trained in seconds on a synthetic corpus.

No test touches the network: the hub is switched off for the whole session, and tests that exercise the
"hub unreachable" path point the endpoint at a closed loopback port.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("PROVENANCE_MODEL", None)

SUBJECTS = ["the old captain", "a young doctor", "the quiet village", "my sister", "the river", "the king",
            "a tired soldier", "the small boat", "her mother", "the city council"]
VERBS = ["walked toward", "remembered", "looked at", "spoke with", "waited for", "followed", "described",
         "crossed", "admired", "avoided"]
OBJECTS = ["the harbour", "an empty house", "the morning train", "a letter from London", "the long road",
           "the winter garden", "a silver key", "the northern hills", "the market square", "a strange light"]
TAILS = ["before the storm.", "in silence.", "at dawn.", "without a word.", "for many years.",
         "with great care.", "once again.", "after dinner.", "near the bridge.", "as the bells rang."]


def synthetic_paragraphs(count: int, seed: int = 0) -> list[str]:
    """Grammatical, repetitive English: enough structure for a micro model to learn in seconds."""
    rng = random.Random(seed)
    paragraphs = []
    for _ in range(count):
        sentences = [
            f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}"
            for _ in range(rng.randint(2, 5))
        ]
        paragraphs.append(" ".join(sentences))
    return paragraphs


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    paragraphs = synthetic_paragraphs(1500)
    for part in range(3):
        chunk = paragraphs[part::3]
        (root / f"part{part}.txt").write_text("\n\n".join(chunk) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def micro_model_dir(tmp_path_factory: pytest.TempPathFactory, synthetic_corpus: Path) -> Path:
    """A real (tiny) GPT-2 checkpoint in Hugging Face format, trained for a fixed number of steps."""
    from generator.bootstrap import get_preset, train_bootstrap_model
    from generator.ngram_index import write_model_index

    out = tmp_path_factory.mktemp("models") / "micro"
    train_bootstrap_model(synthetic_corpus, out, get_preset("micro"), max_steps=120, max_minutes=10, seed=0,
                          index_writer=write_model_index)  # as `provenance model bootstrap` does
    return out


@pytest.fixture(scope="session")
def micro_model(micro_model_dir: Path):
    from generator import ModelRequest, load_model

    return load_model(str(micro_model_dir), ModelRequest(device="cpu", offline=True))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No PROVENANCE_* variables leak in; the data directory is a fresh temp dir."""
    for key in list(os.environ):
        if key.startswith("PROVENANCE_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("PROVENANCE_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    from provenance.settings import get_settings

    get_settings.cache_clear()
    return home


@pytest.fixture(scope="session")
def detect_data_file(tmp_path_factory: pytest.TempPathFactory, micro_model) -> Path:
    """Labelled detection data made here: human = synthetic paragraphs, machine = micro-model samples.

    Each machine text continues the first words of its human pair; two domains and two "generators"
    (sampling temperatures) so hold-out tables have something to hold out.
    """
    import json

    from generator import SamplingConfig, generate

    rng = random.Random(11)
    paragraphs = synthetic_paragraphs(240, seed=21)
    humans = [" ".join(paragraphs[2 * i: 2 * i + 2]) for i in range(100)]
    rows = []
    for temperature, name in ((1.0, "micro-t10"), (0.8, "micro-t08")):
        picked = [i for i in range(len(humans)) if (i % 2 == 0) == (name == "micro-t10")]
        prompts = [" ".join(humans[i].split()[:4]) for i in picked]
        outputs = generate(micro_model, prompts, SamplingConfig(max_new_tokens=52, min_new_tokens=52, top_k=None,
                                                                 temperature=temperature, seed=rng.randint(0, 999)))
        for i, prompt, output in zip(picked, prompts, outputs, strict=True):
            domain = "stories" if i % 4 < 2 else "letters"
            rows.append({"pair": i, "label": "human", "text": humans[i], "domain": domain, "generator": None})
            rows.append({"pair": i, "label": "machine", "text": f"{prompt}{output.text}", "domain": domain,
                         "generator": name})
    path = tmp_path_factory.mktemp("detect") / "labelled.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scorer(micro_model):
    """The perplexity scorer on the micro model (per module, as the detection tests used it)."""
    from detect.perplexity import PerplexityScorer

    return PerplexityScorer(micro_model)


@pytest.fixture(scope="module")
def bundle(scorer, detect_data_file: Path):
    """A detector bundle trained in-process on ``detect_data_file`` (no CLI, no home)."""
    from detect.training import prepare, train_bundle

    return train_bundle("test", scorer, prepare([detect_data_file]), cache=None)


@pytest.fixture(scope="session")
def trained_bundle(tmp_path_factory: pytest.TempPathFactory, micro_model_dir: Path, detect_data_file: Path) -> Path:
    """One detector bundle trained through the CLI on the micro model; tests copy it into their data dir."""
    home = tmp_path_factory.mktemp("trained-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROVENANCE_HOME", str(home))
        patch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
        from provenance.cli import main

        with pytest.raises(SystemExit) as exited:
            main(["detect", "train", str(detect_data_file), "--out", "default", "--json"])
        assert exited.value.code in (0, None)
    from provenance.settings import get_settings

    get_settings.cache_clear()
    return home / "detectors" / "default"


def install_bundle(source: Path, home: Path, name: str = "default", kind: str = "detector-bundle") -> Path:
    """Copy a bundle trained in another test home into ``home`` and sign it with ``home``'s key: the test
    set-up equivalent of ``provenance detect import-bundle`` (bundles load only when this installation signed
    them)."""
    import shutil

    from provenance.artifact_signing import sign_directory

    target = home / "detectors" / name
    shutil.copytree(source, target)
    sign_directory(home, target, kind)
    return target


def write_signed_state(home: Path, state: dict) -> None:
    """``<home>/detectors/active.json`` as ``provenance detect promote`` writes it (signed with home's key)."""
    from provenance.bundles import write_state
    from provenance.settings import Settings

    write_state(Settings(home=home), state)


def resign_bundle(home: Path, directory: Path, kind: str = "detector-bundle") -> None:
    """Sign a bundle a test edited by hand (its card), as if this installation had written it."""
    from provenance.artifact_signing import sign_directory

    sign_directory(home, directory, kind)


from tests.services import postgres_server, postgres_url, redis_server  # noqa: E402,F401 - shared fixtures
