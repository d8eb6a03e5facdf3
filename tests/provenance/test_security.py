"""Security model outside the API matrix: scan roots and path escapes, reviewer accounts and the sign-in
back-off, the tenant migration, and the smaller hardening (credentials in stored URLs, the signing key created
atomically, literal LIKE filters, bundles checked against their cards before unpickling)."""

from __future__ import annotations

import json
import multiprocessing
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from provenance.errors import ProvenanceError
from provenance.review.accounts import (
    FREE_FAILURES,
    add_reviewer,
    authenticate,
    delay_after,
    disable_reviewer,
    list_reviewers,
    set_password,
)
from provenance.scan_roots import ScanPathRefused, allowed_scan_files
from provenance.store import AuditLog, session_scope, upgrade
from provenance.store.models import utcnow
from testkit.review_seed import seed_demo_verdicts
from tests.cli_support import run_cli

PASSWORD = "correct horse battery"


# --- scan roots -------------------------------------------------------------------------------------------


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(allowed root, a secret folder outside it, the data directory inside the root)."""
    root, secret, home = tmp_path / "dumps", tmp_path / "secret", tmp_path / "dumps" / "home"
    for folder in (root / "inner", secret, home / "keys"):
        folder.mkdir(parents=True)
    (root / "inner" / "a.jsonl").write_text('{"text": "allowed"}\n')
    (secret / "passwords.txt").write_text("not for the API\n")
    (home / "keys" / "signing_ed25519.pem").write_text("private\n")
    return root, secret, home


def test_files_inside_a_root_are_allowed(roots: tuple[Path, Path, Path]) -> None:
    root, _secret, home = roots
    assert allowed_scan_files(str(root / "inner" / "a.jsonl"), [root], home) == [root / "inner" / "a.jsonl"]
    assert allowed_scan_files(str(root / "inner"), [root], home) == [root / "inner" / "a.jsonl"]


def test_every_crafted_escape_is_refused(roots: tuple[Path, Path, Path]) -> None:
    root, secret, home = roots
    (root / "link-out.txt").symlink_to(secret / "passwords.txt")
    (root / "dir-out").symlink_to(secret, target_is_directory=True)
    (root / "loop").symlink_to(root / "loop")
    os.mkfifo(root / "pipe")
    mixed = root / "mixed"
    mixed.mkdir()
    (mixed / "ok.txt").write_text("fine\n")
    (mixed / "sneaky.txt").symlink_to(secret / "passwords.txt")
    crafted = [
        str(root / ".." / "secret" / "passwords.txt"),  # dot-dot
        str(secret / "passwords.txt"),  # absolute path outside
        str(root / "link-out.txt"),  # a symlink pointing out
        str(root / "dir-out" / "passwords.txt"),  # through a symlinked folder
        str(root / "dir-out"),
        str(home / "keys" / "signing_ed25519.pem"),  # the data directory, although inside the root
        str(home),
        str(root),  # a root that contains the data directory
        str(root / "pipe"),  # a FIFO would block the reader forever
        str(root / "loop"),
        str(mixed),  # a folder with one symlink out
        str(root / "missing.jsonl"),
        "",
        "relative/../../etc/passwd",
    ]
    read = []
    for path in crafted:
        try:
            read.append((path, allowed_scan_files(path, [root], home)))
        except ScanPathRefused as exc:
            assert exc.hint, path
    assert read == []


def test_no_roots_means_server_side_scans_are_off(roots: tuple[Path, Path, Path]) -> None:
    root, _secret, home = roots
    with pytest.raises(ScanPathRefused, match="disabled") as refused:
        allowed_scan_files(str(root / "inner" / "a.jsonl"), [], home)
    assert "PROVENANCE_SCAN_ROOTS" in (refused.value.hint or "")


def test_api_path_escapes_create_no_job(tmp_path: Path, micro_model_dir: Path,
                                        roots: tuple[Path, Path, Path]) -> None:
    from fastapi.testclient import TestClient

    from provenance.api import create_app
    from provenance.apikeys import create_api_key
    from provenance.store.models import ScanJob
    from tests.provenance.api_support import api_settings_for

    root, secret, _home = roots
    settings = api_settings_for(tmp_path / "api-home", micro_model_dir, scan_roots=[root])
    (root / "link-out.txt").symlink_to(secret / "passwords.txt")
    _id, key = create_api_key(settings.resolved_database_url, name="ops", scopes="admin")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings)) as client:
        for path in (str(secret / "passwords.txt"), str(root / "link-out.txt"), str(root / ".." / "secret"),
                     str(settings.home / "keys")):
            response = client.post("/v1/scan", headers=headers, json={"path": path})
            assert response.status_code == 403 and "PROVENANCE_SCAN_ROOTS" in response.json()["message"]
        client.app.state.services.audit.flush()
        with session_scope(settings.resolved_database_url) as session:
            assert session.scalars(select(ScanJob)).all() == []
            refusals = session.scalars(select(AuditLog).where(AuditLog.action == "scan.path_refused")).all()
        assert len(refusals) == 4
    without_roots = api_settings_for(tmp_path / "api-home", micro_model_dir)
    with TestClient(create_app(without_roots)) as client:
        response = client.post("/v1/scan", headers=headers, json={"path": str(root / "inner" / "a.jsonl")})
        assert response.status_code == 403 and "disabled" in response.json()["message"]


# --- reviewer accounts and sign-in -------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'provenance.sqlite'}"
    upgrade(url)
    return url


def test_reviewer_accounts_bad_input(store: str) -> None:
    add_reviewer(store, "alice", PASSWORD)
    with pytest.raises(ProvenanceError, match="already exists"):
        add_reviewer(store, "alice", PASSWORD)
    for bad in ("", "   ", "short"):
        with pytest.raises(ProvenanceError, match="password"):
            add_reviewer(store, "bob", bad)
    with pytest.raises(ProvenanceError, match="invalid reviewer name"):
        add_reviewer(store, "bad name!", PASSWORD)
    with pytest.raises(ProvenanceError, match="unknown role"):
        add_reviewer(store, "carol", PASSWORD, role="owner")
    with pytest.raises(ProvenanceError, match="no reviewer"):
        disable_reviewer(store, "nobody")
    listed = list_reviewers(store)
    assert [(r["name"], r["status"]) for r in listed] == [("alice", "active")]
    assert "password_hash" not in listed[0] and PASSWORD not in json.dumps(listed)


def test_passwords_are_argon2id_hashes(store: str) -> None:
    from provenance.store.models import Reviewer

    add_reviewer(store, "alice", PASSWORD)
    with session_scope(store) as session:
        stored = session.scalars(select(Reviewer)).one().password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_ten_wrong_passwords_cost_the_attacker_at_least_a_minute(store: str) -> None:
    """The attacker waits exactly as long as the back-off demands between guesses (the best strategy)."""
    add_reviewer(store, "alice", PASSWORD)
    now = utcnow()
    start, guesses = now, 0
    while guesses < 10:
        result = authenticate(store, "alice", f"guess {guesses}", client="203.0.113.9", now=now)
        if result.retry_after and result.account is None and "Too many" in result.message:
            now += timedelta(seconds=result.retry_after)  # refused unchecked: the guess did not count
            continue
        guesses += 1
        assert result.account is None
        now += timedelta(seconds=result.retry_after)
    assert (now - start).total_seconds() >= 60
    # Inside the wait even the right password is refused unchecked; after it, it works and resets the count.
    blocked = authenticate(store, "alice", PASSWORD, client="203.0.113.9", now=now - timedelta(seconds=1))
    assert blocked.account is None and "Too many" in blocked.message
    assert authenticate(store, "alice", PASSWORD, client="203.0.113.9", now=now).account is not None
    assert authenticate(store, "alice", "again wrong", client="203.0.113.9", now=now).retry_after == 0
    with session_scope(store) as session:
        actions = [row.action for row in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions.count("reviewer.signin_failed") == 11 and "reviewer.signin_throttled" in actions


def test_back_off_is_per_client_across_accounts(store: str) -> None:
    for name in ("alice", "bob", "carol", "dave"):
        add_reviewer(store, name, PASSWORD)
    now = utcnow()
    for name in ("alice", "bob", "carol"):
        authenticate(store, name, "wrong guess", client="198.51.100.7", now=now)
    refused = authenticate(store, "dave", PASSWORD, client="198.51.100.7", now=now)
    assert refused.account is None and "Too many" in refused.message
    assert authenticate(store, "dave", PASSWORD, client="192.0.2.1", now=now).account is not None
    assert delay_after(FREE_FAILURES) == timedelta(0) and delay_after(FREE_FAILURES + 1) == timedelta(seconds=2)


def test_disabled_accounts_and_old_passwords_cannot_sign_in(store: str) -> None:
    from provenance.review.accounts import session_still_valid

    add_reviewer(store, "alice", PASSWORD)
    account = authenticate(store, "alice", PASSWORD).account
    assert account is not None and session_still_valid(store, account)
    set_password(store, "alice", "a brand new passphrase")
    assert not session_still_valid(store, account)
    assert authenticate(store, "alice", PASSWORD).account is None
    disable_reviewer(store, "alice")
    assert authenticate(store, "alice", "a brand new passphrase").account is None
    message = authenticate(store, "nobody", PASSWORD).message
    assert message.startswith("Wrong name or password.")  # the same answer for unknown names


def test_reviewer_cli(clean_env: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, out, _err = run_cli(capsys, "reviewer", "add", "alice", "--role", "admin", "--json")
    assert code == 0 and json.loads(out)["role"] == "admin"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code, _out, err = run_cli(capsys, "reviewer", "add", "alice")
    assert code == 2 and "already exists" in err and "Traceback" not in err
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    code, _out, err = run_cli(capsys, "reviewer", "add", "bob")
    assert code == 2 and "no password" in err
    code, out, _err = run_cli(capsys, "reviewer", "disable", "alice", "--json")
    assert code == 0 and json.loads(out)["status"] == "disabled"
    code, out, _err = run_cli(capsys, "reviewer", "list", "--json")
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["alice"]


def test_the_demo_account_is_created_once_with_a_private_password(store: str, tmp_path: Path) -> None:
    from provenance.review.accounts import ensure_demo_reviewer

    name, password = ensure_demo_reviewer(store, tmp_path / "home")
    assert authenticate(store, name, password).account is not None
    assert ensure_demo_reviewer(store, tmp_path / "home") == (name, password)
    stored = tmp_path / "home" / "keys" / "demo_reviewer_password"
    assert oct(stored.stat().st_mode & 0o777) == "0o600"


def test_dashboard_refuses_a_public_address_without_accounts(clean_env: Path, capsys) -> None:
    code, _out, err = run_cli(capsys, "dashboard", "--host", "0.0.0.0", "--port", "8599")
    assert code == 2 and "without reviewer accounts" in err and "reviewer add" in err


def test_tenant_cli(clean_env: Path, capsys, tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    dump.write_text('{"text": "a line for the tenant"}\n')
    code, _out, err = run_cli(capsys, "scan", str(dump), "--tenant", "newsroom")
    assert code == 2 and "unknown tenant 'newsroom'" in err and "apikey create" in err
    code, _out, err = run_cli(capsys, "apikey", "create", "--name", "x", "--tenant", "Bad Name!")
    assert code == 2 and "invalid tenant name" in err
    code, out, _err = run_cli(capsys, "apikey", "create", "--name", "x", "--scopes", "scan", "--tenant", "newsroom",
                              "--json")
    assert code == 0 and json.loads(out)["key"].startswith("pvk_")
    code, out, _err = run_cli(capsys, "apikey", "list", "--json")
    assert json.loads(out.splitlines()[0])["tenant"] == "newsroom"
    code, out, _err = run_cli(capsys, "scan", str(dump), "--tenant", "newsroom", "--json")
    assert code == 0 and json.loads(out)["tenant"] == "newsroom"


# --- migration ----------------------------------------------------------------------------------------------


def test_migration_gives_existing_rows_the_default_tenant(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    upgrade(url, "0001")
    from provenance.store.engine import get_engine

    now = utcnow().isoformat(sep=" ")
    with get_engine(url).begin() as connection:
        connection.execute(text("INSERT INTO api_keys (id, name, key_hash, scopes, created_at) "
                                "VALUES ('k1', 'old', :h, '[\"scan\"]', :now)"), {"h": "a" * 64, "now": now})
        connection.execute(text("INSERT INTO scan_jobs (id, status, inputs, bundle_version, total, quarantined, "
                                "duplicates, documents, reused, chunks_total, chunks_done, new_verdicts, "
                                "submission_done, created_at, last_progress_at) VALUES ('j1', 'done', '{}', 'b', "
                                "0, 0, 0, 0, 0, 0, 0, 0, 1, :now, :now)"), {"now": now})
        connection.execute(text("INSERT INTO worker_heartbeats (hostname, pid, concurrency, broker, started_at, "
                                "last_seen) VALUES ('w', 1, 1, :broker, :now, :now)"),
                           {"now": now, "broker": "redis://:secret@host:6379/0"})
    upgrade(url)
    with get_engine(url).connect() as connection:
        assert connection.execute(text("SELECT tenant FROM api_keys")).scalar_one() == "default"
        assert connection.execute(text("SELECT tenant FROM scan_jobs")).scalar_one() == "default"
        assert connection.execute(text("SELECT COUNT(*) FROM worker_heartbeats")).scalar_one() == 0


# --- smaller hardening ----------------------------------------------------------------------------------------


def test_heartbeats_store_the_broker_url_without_its_password(clean_env: Path, monkeypatch) -> None:
    from provenance.pipeline import workers
    from provenance.settings import get_settings
    from provenance.store.models import WorkerHeartbeat

    monkeypatch.setenv("PROVENANCE_BROKER_URL", "redis://:hunter2-secret@127.0.0.1:6390/0")
    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_home()
    upgrade(settings.resolved_database_url)
    workers._beat("host-1", 2)
    with session_scope(settings.resolved_database_url) as session:
        stored = session.get(WorkerHeartbeat, "host-1").broker
    assert "hunter2" not in stored and stored.endswith("@127.0.0.1:6390/0")
    assert workers.live_workers(settings.resolved_broker_url) == 2
    get_settings.cache_clear()


def test_a_starting_worker_forgets_rows_of_workers_dead_for_a_day(clean_env: Path) -> None:
    """A killed worker never removes its heartbeat row; the next worker to start removes rows not seen for a
    day, and leaves a recently seen one (a worker that may still be alive) alone."""
    from provenance.pipeline import workers
    from provenance.settings import get_settings
    from provenance.store.models import WorkerHeartbeat

    get_settings.cache_clear()
    settings = get_settings()
    settings.ensure_home()
    upgrade(settings.resolved_database_url)
    now = utcnow()
    with session_scope(settings.resolved_database_url) as session:
        for name, age in (("killed-last-week", timedelta(days=7)), ("quiet-a-minute", timedelta(minutes=1))):
            session.add(WorkerHeartbeat(hostname=name, pid=1, concurrency=1, broker="memory://",
                                        last_seen=now - age))
    workers._beat("new-worker", 1)
    workers._beat("new-worker", 1)  # its later beats delete nothing
    with session_scope(settings.resolved_database_url) as session:
        names = set(session.scalars(select(WorkerHeartbeat.hostname)))
    assert names == {"quiet-a-minute", "new-worker"}
    get_settings.cache_clear()


def _create_key(home: str, queue: multiprocessing.Queue) -> None:
    from cryptography.hazmat.primitives import serialization

    from provenance.signing import load_or_create_signing_key

    key = load_or_create_signing_key(Path(home))
    queue.put(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))


def test_concurrent_first_use_yields_one_complete_signing_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        home = tmp_path / f"home-{attempt}"
        queue = context.Queue()
        processes = [context.Process(target=_create_key, args=(str(home), queue)) for _ in range(4)]
        for process in processes:
            process.start()
        keys = {queue.get(timeout=120) for _ in processes}
        for process in processes:
            process.join(timeout=60)
            assert process.exitcode == 0
        assert len(keys) == 1
        key_file = home / "keys" / "signing_ed25519.pem"
        assert key_file.read_bytes() in keys and oct(key_file.stat().st_mode & 0o777) == "0o600"
        assert [p.name for p in (home / "keys").iterdir() if p.name.startswith(".")] == []


def test_entity_filter_underscore_is_literal(tmp_path: Path) -> None:
    from provenance import review
    from provenance.review import QueueFilters

    url = f"sqlite:///{tmp_path / 'q.sqlite'}"
    upgrade(url)
    with session_scope(url) as session:
        seed_demo_verdicts(session, 200, seed=3)
        assert review.queue_count(session, QueueFilters(entity_type="EMAIL_ADDRESS")) > 0
        assert review.queue_count(session, QueueFilters(entity_type="EMAIL_ADDRES_")) == 0
        assert review.queue_count(session, QueueFilters(entity_type="E_AIL_ADDRESS")) == 0


def test_bundles_are_checked_against_their_card_before_unpickling(tmp_path: Path) -> None:
    from detect.bundle import BUNDLE_FORMAT, CARD_FILE, ENSEMBLE_FILE, load_bundle
    from detect.errors import DetectionError
    from detect.toxicity.bundle import KIND, MODEL_FILE, TOXICITY_FORMAT, load_toxicity_bundle

    detector = tmp_path / "detector"
    detector.mkdir()
    (detector / ENSEMBLE_FILE).write_bytes(b"not the file that was trained")
    (detector / CARD_FILE).write_text(json.dumps({"format": BUNDLE_FORMAT, "ensemble_sha256": "0" * 64}))
    with pytest.raises(DetectionError, match="does not match its card") as refused:
        load_bundle(detector)
    assert "ensemble_sha256" in str(refused.value)
    (detector / CARD_FILE).write_text(json.dumps({"format": BUNDLE_FORMAT}))
    with pytest.raises(DetectionError, match="records no ensemble_sha256"):
        load_bundle(detector)
    toxicity = tmp_path / "toxicity"
    toxicity.mkdir()
    (toxicity / MODEL_FILE).write_bytes(b"swapped")
    (toxicity / CARD_FILE).write_text(json.dumps({"kind": KIND, "format": TOXICITY_FORMAT,
                                                  "model_sha256": "1" * 64}))
    with pytest.raises(DetectionError, match="model_sha256"):
        load_toxicity_bundle(toxicity)
