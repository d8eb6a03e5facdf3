"""Shared fixtures: an offline environment and a micro GPT-2 trained in seconds on a synthetic corpus.

No test touches the network: the hub is switched off for the whole session, and tests that exercise the
"hub unreachable" path point the endpoint at a closed loopback port.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.services import PostgresServer, RedisServer, postgres_bindir, redis_binary
from testkit.texts import synthetic_paragraphs, synthetic_toxicity_rows

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("PROVENANCE_MODEL", None)

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


# ------------------------------------------------------------------------------ toxicity (detect and provenance)
@pytest.fixture(scope="session")
def toxicity_data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("toxicity") / "labelled.jsonl"
    lines = [json.dumps(row) for row in synthetic_toxicity_rows(400)]
    lines.insert(5, "{not json")
    lines.insert(9, json.dumps({"text": "x", "label": "maybe"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def toxicity_bundle_path(tmp_path_factory: pytest.TempPathFactory, toxicity_data_file: Path) -> Path:
    from detect.toxicity import read_toxicity_data, save_toxicity_bundle, train_toxicity_bundle

    data = read_toxicity_data([toxicity_data_file])
    bundle = train_toxicity_bundle(data, name="toxicity", folds=3, target_fpr=0.05)
    return save_toxicity_bundle(bundle, tmp_path_factory.mktemp("bundles") / "toxicity")


# ------------------------------------------------------------------------------ loopback services
def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(binary: str | None, what: str) -> str:
    """Outside CI a missing server binary skips the tests that need it, with the reason; in CI (``CI=true``,
    where ``.ci/run`` installs both) it fails them, so those tests are mandatory there."""
    if binary:
        return binary
    message = f"{what} is not installed (apt-get install -y redis-server postgresql; .ci/run does this)"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(require(redis_binary(), "redis-server"), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = require(postgres_bindir(), "PostgreSQL")
    directory = Path(tempfile.mkdtemp(prefix="provenance-pg-"))  # not under pytest's 0700 root-owned tmp
    server = PostgresServer(bindir, directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


_databases = iter(range(10**6))


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"test_{os.getpid()}_{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store on SQLite and on PostgreSQL (each test runs on both)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("postgres_url")
