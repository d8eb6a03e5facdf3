"""The signal registry and the process's ``SignalSet``: a new signal is one class and one registry line, and
every judgement comes from one place.

* A toy signal registered here (no other file touched) is scored by the real pipeline and its record shows in
  the stored verdict, ``verdicts export`` (JSONL and Parquet) and ``/v1/verdicts/{id}`` over real HTTP.
* ``SignalSet`` hands out one signal per (name, options) and rebuilds it when its bundle changes on disk.
* Detection, toxicity, PII, watermark and the ledger lookup are each constructed in exactly one module, and no
  caller reaches through a signal to its service (services are private to their signals).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from provenance.settings import Settings
from provenance.signals import (
    BaseSignal,
    SignalResult,
    SignalSet,
    register,
    signal_class,
    signal_names,
    signal_set,
    unregister,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class VowelResult(SignalResult):
    vowel_share: float


class VowelSignal(BaseSignal):
    """The toy sixth signal: the share of letters that are vowels (invented; cheap and deterministic)."""

    name = "vowels"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def version(self) -> str:
        return "vowels:1"

    def score(self, texts: Sequence[str]) -> list[VowelResult]:
        shares = []
        for text in texts:
            letters = [c for c in text.lower() if c.isalpha()]
            shares.append(round(sum(c in "aeiou" for c in letters) / max(len(letters), 1), 6))
        return [VowelResult(share) for share in shares]


@pytest.fixture
def vowels() -> Iterator[None]:
    register("vowels", VowelSignal)  # the one registry line
    yield
    unregister("vowels")


def test_a_registered_signal_reaches_the_verdict_export_and_the_api(
        tmp_path: Path, micro_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
        vowels: None) -> None:
    import pyarrow.parquet as pq

    from provenance.api import create_app
    from provenance.apikeys import create_api_key
    from provenance.pipeline import processing, submission
    from provenance.store import VerdictRow, session_scope, upgrade
    from testkit.services import free_port
    from testkit.texts import synthetic_paragraphs
    from tests.cli_support import run_cli
    from tests.provenance.api_support import ThreadedServer

    home = tmp_path / "home"
    url = f"sqlite:///{home / 'db.sqlite'}"
    for key, value in {"PROVENANCE_HOME": str(home), "PROVENANCE_MODEL": str(micro_model_dir),
                       "PROVENANCE_DATABASE_URL": url, "PROVENANCE_HUB_OFFLINE": "true",
                       "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}.items():
        monkeypatch.setenv(key, value)
    home.mkdir()
    upgrade(url)
    settings = Settings(home=home, model=str(micro_model_dir), database_url=url, hub_offline=True,
                        device="cpu", scan_chunk_size=8)
    texts = synthetic_paragraphs(3, seed=5)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    sent: list[int] = []
    monkeypatch.setattr(submission, "send_chunk", lambda _settings, chunk_id: sent.append(chunk_id))
    job = submission.submit_paths(settings, [source])
    for chunk_id in sent:
        processing.process_chunk(settings, chunk_id)

    expected = {VowelSignal(settings).score([t])[0].vowel_share for t in texts}
    with session_scope(url) as session:
        rows = session.query(VerdictRow).filter(VerdictRow.job_id == job).all()
        stored = {row.signals["vowels"]["vowel_share"] for row in rows}
        assert {row.versions["vowels"] for row in rows} == {"vowels:1"}
        verdict_id = rows[0].id
        for row in rows:  # every signal, built-in or not, stores its record and version the same way
            assert set(row.signals) == set(row.versions) == set(signal_names())
            for name in signal_names():  # and the indexed columns are copies out of those records
                record = row.signals[name] or {}
                for column, key in signal_class(name).indexed.items():
                    if record.get(key) is not None:
                        assert getattr(row, column) == record[key], (name, column)
    assert len(rows) == 3 and stored == expected

    for fmt in ("jsonl", "parquet"):
        code, _out, err = run_cli(capsys, "verdicts", "export", "--job", job, "--format", fmt, "--output",
                                  str(tmp_path / f"verdicts.{fmt}"))
        assert code == 0, err
    lines = [json.loads(line) for line in (tmp_path / "verdicts.jsonl").read_text().splitlines()]
    assert {line["signals"]["vowels"]["vowel_share"] for line in lines} == expected
    assert {"p_machine", "verdict", "watermark", "pii_count", "bundle_version"} <= lines[0].keys()  # flat keys stay
    table = pq.read_table(tmp_path / "verdicts.parquet").to_pylist()
    assert {json.loads(row["signals"])["vowels"]["vowel_share"] for row in table} == expected
    assert {dict(row["versions"])["vowels"] for row in table} == {"vowels:1"}

    _, key = create_api_key(url, name="registry", scopes="scan")
    server = ThreadedServer(create_app(settings), free_port())
    server.start()
    try:
        answer = httpx.get(f"{server.base_url}/v1/verdicts/{verdict_id}",
                           headers={"Authorization": f"Bearer {key}"}, timeout=30)
    finally:
        server.stop()
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert record["signals"]["vowels"]["vowel_share"] in expected and record["versions"]["vowels"] == "vowels:1"
    assert {"verdict", "p_machine", "watermark", "pii_count", "ledger_manifest_id"} <= record.keys()


def test_a_changed_version_of_any_signal_lets_rescore_judge_again(
        tmp_path: Path, micro_model_dir: Path, trained_bundle: Path, monkeypatch: pytest.MonkeyPatch,
        vowels: None) -> None:
    """Same detector bundle, new version of the toy signal: ``--rescore`` judges the job again and keeps the
    old verdicts; without a change it refuses, as before."""
    from provenance.errors import ProvenanceError
    from provenance.pipeline import processing
    from provenance.pipeline.export import iter_verdicts
    from provenance.pipeline.rescore import rescore
    from provenance.store import ScanJob, VerdictRow, session_scope

    options = _scanned_home_options(tmp_path, micro_model_dir, trained_bundle, monkeypatch)
    settings, url = Settings(**options), options["database_url"]
    job = _scan_then_rescore_refuses(settings, tmp_path, monkeypatch, paragraphs=3, seed=6)

    monkeypatch.setattr(VowelSignal, "version", property(lambda self: "vowels:2"))
    staged = rescore(settings, job)
    assert staged["to_score"] == 3 and staged["bundle_version"].startswith(staged["previous_bundle_version"] + "+")
    for chunk_id in staged["chunk_ids"]:
        processing.process_chunk(settings, chunk_id)
    with pytest.raises(ProvenanceError, match="already judged"):
        rescore(settings, job)
    with session_scope(url) as session:
        assert session.get(ScanJob, job).bundle_version == staged["bundle_version"]
        versions = sorted(row.versions["vowels"] for row in session.query(VerdictRow).all())
    assert versions == ["vowels:1"] * 3 + ["vowels:2"] * 3  # the old verdicts stay
    assert {record["versions"]["vowels"] for record in iter_verdicts(settings, job)} == {"vowels:2"}


def test_the_signal_set_reuses_a_signal_and_rebuilds_it_when_its_bundle_changes(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    card = settings.detectors_dir / "default" / "card.json"
    card.parent.mkdir(parents=True)
    card.write_text(json.dumps({"name": "default", "trained": "first"}))
    signals = SignalSet(settings)
    first = signals.get("detection")
    assert signals.get("detection") is first  # built once per process
    card.write_text(json.dumps({"name": "default", "trained": "second"}))  # as a retrain or promotion would
    second = signals.get("detection")
    assert second is not first and second.version != first.version
    assert signal_set(settings) is signal_set(Settings(home=tmp_path / "home"))  # one set per configuration


CONSTRUCTORS = {  # the constructor (or lookup) called -> the one module allowed to call it
    "DetectionService": "provenance/signals/detection.py",
    "ToxicityService": "provenance/signals/toxicity.py",
    "get_analyzer": "provenance/signals/pii.py",  # the PII analyzer
    "redact": "provenance/signals/pii.py",  # the PII redactor (operator + its secret or key)
    "WatermarkDetector": "provenance/signals/watermark.py",
    "lookup_many": "provenance/signals/provenance.py",  # the ledger lookup
}
PRODUCT = ("provenance", "dashboard")
EVERY_CALLER = (*PRODUCT, "bench", "testkit", "docsgen", "tests")


def _sources(packages: Sequence[str]) -> Iterator[tuple[str, ast.AST]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text(encoding="utf-8"))


def _called_name(node: ast.Call) -> str | None:
    return node.func.id if isinstance(node.func, ast.Name) else (
        node.func.attr if isinstance(node.func, ast.Attribute) else None)


def test_each_judgement_is_constructed_in_exactly_one_module() -> None:
    """Outside the libraries that define them, each service is built (or the ledger queried) only by its signal:
    every call in the product's syntax tree, wherever it sits (module level, function, lambda)."""
    found: dict[str, set[str]] = {name: set() for name in CONSTRUCTORS}
    for module, tree in _sources(PRODUCT):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) in CONSTRUCTORS:
                found[_called_name(node)].add(module)
    assert found == {name: {module} for name, module in CONSTRUCTORS.items()}


def test_no_caller_reaches_through_a_signal_to_its_service() -> None:
    """Services are private to their signals: the CLI, the API, the dashboard, benches and tests call the
    signal's own operations (``judge``, ``screen``, ``bundle``...), never ``signal.service`` or ``._service``."""
    offenders = [f"{module}:{node.lineno} .{node.attr}" for module, tree in _sources(EVERY_CALLER)
                 if not module.startswith("provenance/signals/")
                 for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute) and node.attr in ("service", "_service", "loaded_service")]
    assert offenders == []


def test_a_signal_set_that_checks_every_nth_use_still_sees_a_promotion_by_then(tmp_path: Path) -> None:
    """The API's setting: the stamp (card digest) is compared every Nth use, so a promotion reaches a process
    within N requests and the other requests pay nothing."""
    settings = Settings(home=tmp_path / "home")
    card = settings.detectors_dir / "default" / "card.json"
    card.parent.mkdir(parents=True)
    card.write_text(json.dumps({"name": "default", "trained": "first"}))
    signals = SignalSet(settings)
    signals.check_every = 3
    first = signals.get("detection")
    card.write_text(json.dumps({"name": "default", "trained": "second"}))
    assert [signals.get("detection") is first for _ in range(2)] == [True, True]
    assert signals.get("detection") is not first  # the third use compares and rebuilds


def test_a_changed_version_of_a_built_in_signal_lets_rescore_judge_again(
        tmp_path: Path, micro_model_dir: Path, trained_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in signals' versions are recorded like any other: another PII operator (the PII signal's
    version) lets ``--rescore`` judge the job again under the same detector bundle."""
    from provenance.pipeline import processing
    from provenance.pipeline.rescore import rescore
    from provenance.store import VerdictRow, session_scope

    options = _scanned_home_options(tmp_path, micro_model_dir, trained_bundle, monkeypatch)
    url = options["database_url"]
    job = _scan_then_rescore_refuses(Settings(**options), tmp_path, monkeypatch, paragraphs=2, seed=8)

    hashing = Settings(**options, pii_operator="hash")
    staged = rescore(hashing, job)
    assert staged["to_score"] == 2 and staged["bundle_version"].startswith(staged["previous_bundle_version"] + "+")
    for chunk_id in staged["chunk_ids"]:
        processing.process_chunk(hashing, chunk_id)
    with session_scope(url) as session:
        versions = sorted(row.versions["pii"] for row in session.query(VerdictRow).all())
    assert versions == ["operator:hash"] * 2 + ["operator:replace"] * 2


def _scanned_home_options(tmp_path: Path, micro_model_dir: Path, trained_bundle: Path,
                          monkeypatch: pytest.MonkeyPatch) -> dict:
    """Settings of a home with the trained bundle and a migrated SQLite store, chunks of 8."""
    from provenance.store import upgrade
    from tests.conftest import install_bundle

    home = tmp_path / "home"
    install_bundle(trained_bundle, home)
    url = f"sqlite:///{home / 'db.sqlite'}"
    upgrade(url)
    monkeypatch.setenv("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    return {"home": home, "model": str(micro_model_dir), "database_url": url, "hub_offline": True,
            "device": "cpu", "scan_chunk_size": 8, "store_raw_text": True}


def _scan_then_rescore_refuses(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *,
                               paragraphs: int, seed: int) -> str:
    """Scan invented paragraphs chunk by chunk in this process; ``--rescore`` without a change refuses."""
    from provenance.errors import ProvenanceError
    from provenance.pipeline import processing, submission
    from provenance.pipeline.rescore import rescore
    from testkit.texts import synthetic_paragraphs

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{i}", "text": t}) + "\n"
                              for i, t in enumerate(synthetic_paragraphs(paragraphs, seed=seed))))
    sent: list[int] = []
    monkeypatch.setattr(submission, "send_chunk", lambda _settings, chunk_id: sent.append(chunk_id))
    job = submission.submit_paths(settings, [source])
    for chunk_id in sent:
        processing.process_chunk(settings, chunk_id)
    with pytest.raises(ProvenanceError, match="already judged"):
        rescore(settings, job)
    return job
