"""Job callback secrets at rest: encrypted with the artifact store's AES-GCM helper when the operator configured
``PROVENANCE_SECRET_KEY`` (or ``_FILE``), plain when not; either way the callback goes out signed with the secret
the submitter was given, to a real loopback receiver."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import update

from provenance.pipeline.callbacks import attempt, new_callback, verify_signature
from provenance.pipeline.submission import create_job
from provenance.settings import Settings
from provenance.store import JobCallback, ScanJob, session_scope, upgrade
from tests.provenance.test_api_results import Receiver

PAST = datetime(2000, 1, 1)  # an attempt time already due
KEK = "an-invented-key-encryption-key-for-tests"


def _ended_job(settings: Settings, url: str) -> tuple[str, str]:
    """(job id, the secret shown to the submitter) of a job whose scan has ended (the callback is due)."""
    callback = new_callback(url)
    job_id = create_job(settings, {"tenant": "default"}, callback)
    with session_scope(settings.resolved_database_url) as session:
        session.execute(update(ScanJob).where(ScanJob.id == job_id).values(status="done"))
    return job_id, callback["secret"]


def _stored(settings: Settings, job_id: str) -> JobCallback:
    with session_scope(settings.resolved_database_url) as session:
        row = session.get(JobCallback, job_id)
        session.expunge(row)
        return row


def _deliver(settings: Settings, receiver: Receiver) -> None:
    """Two attempts: the receiver refuses the first (503) and accepts the second."""
    with session_scope(settings.resolved_database_url) as session:
        session.execute(update(JobCallback).values(next_attempt_at=PAST))
    assert attempt(settings)
    with session_scope(settings.resolved_database_url) as session:  # skip the back-off, not the retry
        session.execute(update(JobCallback).values(next_attempt_at=PAST))
    assert attempt(settings)


def test_with_a_key_the_secret_is_stored_encrypted_and_still_signs(tmp_path: Path) -> None:
    key_file = tmp_path / "kek.txt"
    key_file.write_text(KEK + "\n")
    settings = Settings(home=tmp_path / "home", secret_key_file=key_file)
    upgrade(settings.resolved_database_url)
    receiver = Receiver()
    try:
        job_id, secret = _ended_job(settings, receiver.url)
        row = _stored(settings, job_id)
        assert row.secret.startswith("e1:") and secret not in row.secret and len(row.secret) <= 128
        _deliver(settings, receiver)
    finally:
        receiver.close()
    assert _stored(settings, job_id).status == "delivered"
    assert [verify_signature(secret, body, header) for body, header in receiver.received] == [True, True]

    # A host without the key (or with another one) cannot open it: a failed attempt that says why, no POST.
    for other in (Settings(home=tmp_path / "home"), Settings(home=tmp_path / "home", secret_key=KEK[::-1])):
        job_id, _secret = _ended_job(settings, "https://hooks.example.org/never-called")
        with session_scope(settings.resolved_database_url) as session:
            session.execute(update(JobCallback).where(JobCallback.job_id == job_id)
                            .values(next_attempt_at=PAST))
        assert attempt(other)
        row = _stored(settings, job_id)
        assert row.status == "pending" and "PROVENANCE_SECRET_KEY" in row.last_error, row.last_error
        with session_scope(settings.resolved_database_url) as session:  # not due again in this test
            session.execute(update(JobCallback).where(JobCallback.job_id == job_id).values(status="failed"))


def test_without_a_key_the_secret_is_stored_as_before_and_read_after_a_key_is_configured(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    upgrade(settings.resolved_database_url)
    receiver = Receiver()
    try:
        job_id, secret = _ended_job(settings, receiver.url)
        assert _stored(settings, job_id).secret == secret  # plain, as rows were before keys existed
        keyed = Settings(home=tmp_path / "home", secret_key=KEK)  # the operator configures a key later
        _deliver(keyed, receiver)
    finally:
        receiver.close()
    assert _stored(settings, job_id).status == "delivered"
    assert [verify_signature(secret, body, header) for body, header in receiver.received] == [True, True]
