"""The store's other two artifact kinds: a toxicity bundle (trained here on invented rows) and a memorisation
index (built here from invented text) published from one home, fetched by `provenance artifacts sync` into an
empty home, verified with the platform key and used there; an archive altered in the database is refused with
a clear message and leaves the host without it."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import select

from provenance.artifacts import DETECTOR, INDEX, KEYS, TOXICITY, installed, pack, publish
from provenance.settings import Settings
from provenance.store import ActiveArtifact, Artifact, session_scope
from testkit.texts import synthetic_paragraphs
from tests.cli_support import assert_clean_failure, json_lines, run_cli
from tests.conftest import install_bundle

SECRET = "an-invented-key-encryption-key-for-tests"
WEIGHTS = "cd" * 32  # the scorer's weights digest the index is filed under (invented)
SEEN = synthetic_paragraphs(60, seed=21)  # the "training corpus" the index records


@pytest.fixture
def publisher(tmp_path: Path, trained_bundle: Path, toxicity_bundle_path: Path) -> Settings:
    from provenance.memorisation import ensure_index

    home = tmp_path / "publisher"
    install_bundle(trained_bundle, home)
    install_bundle(toxicity_bundle_path, home, name="toxicity", kind=TOXICITY)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "part0.txt").write_text("\n\n".join(SEEN) + "\n", encoding="utf-8")
    ensure_index(home, None, WEIGHTS, corpus)
    return Settings(home=home, database_url=f"sqlite:///{tmp_path / 'store.sqlite'}", secret_key=SECRET)


def sync_into(home: Path, publisher: Settings, capsys, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """`provenance artifacts sync --json` as a host with an empty home runs it."""
    from provenance.settings import get_settings

    monkeypatch.setenv("PROVENANCE_HOME", str(home))
    monkeypatch.setenv("PROVENANCE_DATABASE_URL", publisher.resolved_database_url)
    monkeypatch.setenv("PROVENANCE_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    try:
        return run_cli(capsys, "artifacts", "sync", "--json")
    finally:
        get_settings.cache_clear()


def replace_active(publisher: Settings, kind: str, edit) -> None:  # noqa: ANN001
    """What someone who can write the database but cannot sign would do: unpack the active archive of ``kind``,
    ``edit`` its folder, pack it again and point the active row at it (a correct digest of the forgery)."""
    with session_scope(publisher.resolved_database_url) as session:
        original = session.scalars(select(Artifact).where(Artifact.kind == kind)).one()
        name, payload = original.name, bytes(original.payload)
    staging = Path(publisher.home).parent / f"forged-{kind}"
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        tar.extractall(staging, filter="data")
    edit(staging)
    forged = pack([(path.relative_to(staging).as_posix(), path) for path in staging.rglob("*") if path.is_file()])
    digest = hashlib.sha256(forged).hexdigest()
    with session_scope(publisher.resolved_database_url) as session:
        row = Artifact(kind=kind, name=name, digest=digest, size=len(forged), encrypted=False, payload=forged,
                       published_by="someone")
        session.add(row)
        session.flush()
        pointer = session.get(ActiveArtifact, kind)
        pointer.artifact_id, pointer.digest = row.id, digest


def test_an_empty_home_syncs_the_toxicity_bundle_and_index_and_uses_them(
        publisher: Settings, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from detect.memorisation import MemorisationGuard
    from provenance.artifact_signing import index_verifier
    from provenance.signals import signal_set
    from testkit.texts import synthetic_toxicity_rows

    assert [record["kind"] for record in publish(publisher)] == [KEYS, DETECTOR, TOXICITY, INDEX]
    home = tmp_path / "host"
    code, out, err = sync_into(home, publisher, capsys, monkeypatch)
    assert code == 0, err
    assert json_lines(out) == [dict.fromkeys((KEYS, DETECTOR, TOXICITY, INDEX), "installed")]
    assert set(installed(home)) == {KEYS, DETECTOR, TOXICITY, INDEX}
    host = publisher.model_copy(update={"home": home})

    toxicity = signal_set(host).get("toxicity")  # loads only after its signature verified with the platform key
    assert toxicity.availability().available
    assert toxicity.version == signal_set(publisher).get("toxicity").version
    rows = synthetic_toxicity_rows(40, seed=5)  # invented, not the bundle's training rows (seed 0)
    records = [result.record() for result in toxicity.score([row["text"] for row in rows])]
    assert all(record is not None and 0.0 <= record["p_toxic"] <= 1.0 for record in records)
    flagged = [record["toxic"] for record, row in zip(records, rows, strict=True) if row["label"] == "toxic"]
    assert sum(flagged) > len(flagged) / 2  # the synced bundle judges, and judges like the publisher's

    guard = MemorisationGuard.for_scorer(None, WEIGHTS, home, verify=index_verifier(home))
    assert guard.index is not None
    assert guard.coverage(SEEN[0]).triggered  # a text the index records is recognised on the new host
    unseen = "Seven purple umbrellas argued loudly about the tax on invented moons near Quillbury."
    missed = guard.coverage(unseen)  # None: not one of its 8-grams is in the index
    assert missed is None or not missed.triggered

    code, out, _err = sync_into(home, publisher, capsys, monkeypatch)
    assert code == 0 and json_lines(out) == [dict.fromkeys((KEYS, DETECTOR, TOXICITY, INDEX), "current")]


def test_a_toxicity_bundle_altered_in_the_database_is_refused(publisher: Settings, tmp_path: Path, capsys,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    publish(publisher)

    def edit_card(staging: Path) -> None:
        card = staging / "bundle" / "card.json"
        card.write_text(json.dumps({**json.loads(card.read_text()), "threshold": 0.0}))

    replace_active(publisher, TOXICITY, edit_card)
    home = tmp_path / "host"
    code, _out, err = sync_into(home, publisher, capsys, monkeypatch)
    assert_clean_failure(code, err)
    assert "changed after signing" in err
    assert TOXICITY not in installed(home) and not (home / "detectors" / "toxicity").exists()
    assert installed(home).get(KEYS)  # what came before it in install order is in place and verified


def test_a_memorisation_index_altered_in_the_database_is_refused(publisher: Settings, tmp_path: Path, capsys,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    publish(publisher)

    def flip_a_byte(staging: Path) -> None:
        index = next((staging / "index").glob("*.bloom"))
        data = bytearray(index.read_bytes())
        data[len(data) // 2] ^= 0xFF
        index.write_bytes(bytes(data))

    replace_active(publisher, INDEX, flip_a_byte)
    home = tmp_path / "host"
    code, _out, err = sync_into(home, publisher, capsys, monkeypatch)
    assert_clean_failure(code, err)
    assert "memorisation index" in err and "signature" in err
    assert INDEX not in installed(home) and not list((home / "models").glob("memorisation/*.bloom"))
