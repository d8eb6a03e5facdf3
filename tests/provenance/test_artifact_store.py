"""Artifacts through the store, in process on a real SQLite store: a publisher home publishes its detector
bundle and keys; a host with an empty home, given the database and the key-encryption key, gets them, verified
with the platform key, and refuses what the publisher did not sign or what does not decrypt."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from provenance.artifact_signing import ArtifactSignatureError
from provenance.artifacts import DETECTOR, KEYS, ArtifactStoreError, installed, pack, publish, sync
from provenance.bundles import bundle_version
from provenance.keystore import KeyStore
from provenance.settings import Settings
from provenance.signing import SIGNING_KEY_FILE, keys_dir
from provenance.store import ActiveArtifact, Artifact, session_scope
from tests.conftest import install_bundle, write_signed_state

SECRET = "an-invented-key-encryption-key-for-tests"


@pytest.fixture
def publisher(tmp_path: Path, micro_model, trained_bundle: Path) -> Settings:
    home = tmp_path / "publisher"
    install_bundle(trained_bundle, home)
    KeyStore(home).create(micro_model.tokenizer, scheme="selfhash", delta=6.0)
    return Settings(home=home, database_url=f"sqlite:///{tmp_path / 'store.sqlite'}", secret_key=SECRET)


def host(publisher: Settings, tmp_path: Path, name: str = "host", **changes) -> Settings:
    """Another machine: its own empty home, the same database (and, unless changed, the same secret)."""
    return publisher.model_copy(update={"home": tmp_path / name, **changes})


def test_an_empty_home_gets_the_bundle_and_keys_and_skips_them_when_current(publisher: Settings,
                                                                            tmp_path: Path) -> None:
    kinds = [record["kind"] for record in publish(publisher)]
    assert kinds == [KEYS, DETECTOR]  # no toxicity bundle or memorisation index in this home
    with session_scope(publisher.resolved_database_url) as session:
        stored_keys = session.scalars(select(Artifact).where(Artifact.kind == KEYS)).one()
        assert stored_keys.encrypted
        payload = bytes(stored_keys.payload)
    secrets = [stored.key.secret for stored in KeyStore(publisher.home).all()]
    assert b"PRIVATE KEY" not in payload and not any(secret in payload for secret in secrets)

    other = host(publisher, tmp_path)
    assert sync(other) == {KEYS: "installed", DETECTOR: "installed"}
    assert bundle_version(other) == bundle_version(publisher)
    assert [s.key.secret for s in KeyStore(other.home).all()] == secrets
    signing = keys_dir(other.home) / SIGNING_KEY_FILE
    assert signing.read_bytes() == (keys_dir(publisher.home) / SIGNING_KEY_FILE).read_bytes()
    assert signing.stat().st_mode & 0o077 == 0
    assert sync(other) == {KEYS: "current", DETECTOR: "current"}
    from provenance.signals import signal_set

    bundle = signal_set(other).get("detection").bundle  # loads: the signature verified on this host
    assert bundle is not None


def test_a_promotion_published_reaches_the_other_home(publisher: Settings, trained_bundle: Path,
                                                      tmp_path: Path) -> None:
    publish(publisher)
    other = host(publisher, tmp_path)
    sync(other)
    install_bundle(trained_bundle, publisher.home, name="candidate")
    write_signed_state(publisher.home, {"active": "candidate", "history": [
        {"kind": "promote", "name": "candidate", "previous": "default", "at": "2026-01-01T00:00:00Z"}]})
    publish(publisher, (DETECTOR,))
    assert sync(other) == {KEYS: "current", DETECTOR: "installed"}
    assert bundle_version(other) == bundle_version(publisher) and bundle_version(other).startswith("candidate:")


def test_without_the_right_secret_nothing_is_installed(publisher: Settings, tmp_path: Path) -> None:
    publish(publisher)
    missing = host(publisher, tmp_path, "no-secret", secret_key=None)
    with pytest.raises(ArtifactStoreError, match="PROVENANCE_SECRET_KEY is not set"):
        sync(missing)
    wrong = host(publisher, tmp_path, "wrong-secret", secret_key=SecretStr("another-invented-secret-of-some-length"))
    with pytest.raises(ArtifactStoreError, match="does not decrypt"):
        sync(wrong)
    assert not keys_dir(wrong.home).exists() and installed(wrong.home) == {}
    secret_file = tmp_path / "kek.txt"
    secret_file.write_text(SECRET + "\n")
    from_file = host(publisher, tmp_path, "from-file", secret_key=None, secret_key_file=secret_file)
    assert sync(from_file)[KEYS] == "installed"
    with pytest.raises(ArtifactStoreError, match="publish"):
        sync(host(publisher, tmp_path, "empty-store", database_url=f"sqlite:///{tmp_path / 'empty.sqlite'}"))


def test_a_bundle_changed_in_the_database_is_refused(publisher: Settings, tmp_path: Path) -> None:
    """Someone who can write the database but not sign: a re-packed bundle with an edited card."""
    publish(publisher)
    with session_scope(publisher.resolved_database_url) as session:
        original = bytes(session.scalars(select(Artifact).where(Artifact.kind == DETECTOR)).one().payload)
    staging = tmp_path / "tampered"
    with tarfile.open(fileobj=io.BytesIO(original)) as tar:
        tar.extractall(staging, filter="data")
    card = staging / "bundle" / "card.json"
    card.write_text(json.dumps({**json.loads(card.read_text()), "note": "edited"}))
    forged = pack([(path.relative_to(staging).as_posix(), path) for path in staging.rglob("*") if path.is_file()])
    import hashlib

    digest = hashlib.sha256(forged).hexdigest()
    with session_scope(publisher.resolved_database_url) as session:
        row = Artifact(kind=DETECTOR, name="default", digest=digest, size=len(forged), encrypted=False,
                       payload=forged, published_by="someone")
        session.add(row)
        session.flush()
        pointer = session.get(ActiveArtifact, DETECTOR)
        pointer.artifact_id, pointer.digest = row.id, digest
    other = host(publisher, tmp_path)
    with pytest.raises(ArtifactSignatureError, match="changed after signing"):
        sync(other)
    assert not (other.detectors_dir / "default").exists() and DETECTOR not in installed(other.home)
