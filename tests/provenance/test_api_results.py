"""An API client reads everything its scan found through the API alone: uvicorn on 127.0.0.1, a real
`provenance worker` process on the embedded broker, httpx. Pages have no gaps and no doubles and carry the
records `verdicts export` writes; the export streams the same records as JSONL and Parquet; another tenant
gets 404; the callback arrives signed, is retried after a failure and is delivered once."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from provenance.apikeys import create_api_key
from provenance.errors import ProvenanceError
from provenance.pipeline.callbacks import SIGNATURE_HEADER, check_callback_url, verify_signature
from provenance.pipeline.export import iter_verdicts
from provenance.settings import Settings
from provenance.store import AuditLog, JobCallback, session_scope
from testkit.services import free_port
from testkit.workers import WorkerProcess
from tests.conftest import install_bundle, synthetic_paragraphs
from tests.provenance.api_support import ThreadedServer, api_settings_for, prepare_home
from tests.provenance.conftest import pipeline_env

DOCUMENTS = 23  # with chunks of 4 and pages of 5: pages and chunks never line up
WAIT_SECONDS = 300


class Receiver:
    """A loopback HTTP endpoint that answers 503 to its first POST and 200 afterwards, keeping what it got."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((body, self.headers.get(SIGNATURE_HEADER, "")))
                self.send_response(503 if len(received) == 1 else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                """Silent: http.server would print every request to stderr."""

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def api(tmp_path: Path, micro_model_dir: Path, trained_bundle: Path) -> Iterator[tuple[Settings, str]]:
    """The API in a uvicorn thread on 127.0.0.1, on a data home with a watermark key and a detector bundle."""
    from provenance.api import create_app

    home = tmp_path / "home"
    settings = api_settings_for(home, micro_model_dir, scan_chunk_size=4)
    prepare_home(settings)
    install_bundle(trained_bundle, home)
    server = ThreadedServer(create_app(settings), free_port())
    server.start()
    try:
        yield settings, server.base_url
    finally:
        server.stop()


@pytest.fixture
def stack(api: tuple[Settings, str], micro_model_dir: Path) -> Iterator[tuple[Settings, str, WorkerProcess]]:
    """... and one `provenance worker` process sharing its data home."""
    settings, base_url = api
    worker = WorkerProcess(pipeline_env(settings.home, micro_model_dir), settings.home / "worker.log")
    try:
        worker.wait_ready()
        yield settings, base_url, worker
    finally:
        worker.terminate()


def _headers(settings: Settings, tenant: str) -> dict[str, str]:
    _id, key = create_api_key(settings.resolved_database_url, name=tenant, scopes="scan",
                              requests_per_minute=100_000, tenant=tenant)
    return {"Authorization": f"Bearer {key}"}


def _wait(condition, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"waited {WAIT_SECONDS}s for {what}")


def test_a_client_reads_every_verdict_of_its_job_through_the_api(stack: tuple[Settings, str, WorkerProcess]) -> None:
    settings, base_url, _worker = stack
    owner, other = _headers(settings, "default"), _headers(settings, "partner")
    receiver = Receiver()
    texts = synthetic_paragraphs(DOCUMENTS, seed=5)
    records = [{"id": f"rec-{index}", "text": text} for index, text in enumerate(texts)]
    records.insert(7, {"id": "rec-again", "text": texts[2]})  # a repeat: one verdict, under its first id
    try:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            submitted = client.post("/v1/scan", headers=owner, json={"records": records,
                                                                     "callback_url": receiver.url})
            assert submitted.status_code == 202, submitted.text
            job_id, secret = submitted.json()["job_id"], submitted.json()["callback_secret"]
            assert submitted.json()["verdicts_url"] == f"/v1/jobs/{job_id}/verdicts"

            # Page while the worker scores: keep the cursor, never re-read, until the job says complete.
            seen: list[dict] = []
            cursor: str | None = None
            pages = 0
            deadline = time.monotonic() + WAIT_SECONDS
            while True:
                params = {"limit": 5} | ({"cursor": cursor} if cursor is not None else {})
                page = client.get(f"/v1/jobs/{job_id}/verdicts", headers=owner, params=params)
                assert page.status_code == 200, page.text
                body = page.json()
                assert body["tenant"] == "default" and len(body["verdicts"]) <= 5
                seen.extend(body["verdicts"])
                cursor, pages = body["next_cursor"], pages + 1
                if body["complete"]:
                    break
                assert time.monotonic() < deadline, body
                if not body["verdicts"]:
                    time.sleep(0.3)
            assert [record["source_id"] for record in seen] == [f"rec-{index}" for index in range(DOCUMENTS)]
            assert len({record["verdict_id"] for record in seen}) == DOCUMENTS and pages >= DOCUMENTS // 5
            assert client.get(f"/v1/jobs/{job_id}", headers=owner).json()["status"] == "done"

            # The records are `verdicts export` lines (JSON round trip: the API speaks JSON).
            exported = [json.loads(json.dumps(record, default=str)) for record in iter_verdicts(settings, job_id)]
            assert seen == exported

            streamed = client.get(f"/v1/jobs/{job_id}/export", headers=owner)
            assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("application/x-ndjson")
            assert [json.loads(line) for line in streamed.text.splitlines()] == exported
            parquet = client.get(f"/v1/jobs/{job_id}/export", headers=owner, params={"format": "parquet"})
            assert parquet.status_code == 200
            import pyarrow.parquet as pq

            table = pq.read_table(io.BytesIO(parquet.content))
            assert table.column("source_id").to_pylist() == [record["source_id"] for record in exported]
            assert table.column("verdict_id").to_pylist() == [record["verdict_id"] for record in exported]

            # Another tenant: the job does not exist for it, on every route; bad input is a clear 4xx.
            for path in (f"/v1/jobs/{job_id}/verdicts", f"/v1/jobs/{job_id}/export", f"/v1/jobs/{job_id}"):
                refused = client.get(path, headers=other)
                assert refused.status_code == 404 and refused.json()["error"] == "not_found", path
            assert client.get(f"/v1/jobs/{job_id}/verdicts", headers=owner,
                              params={"cursor": "x1"}).status_code == 422
            assert client.get(f"/v1/jobs/{job_id}/verdicts", headers=owner, params={"limit": 0}).status_code == 422
            assert client.get(f"/v1/jobs/{job_id}/export", headers=owner,
                              params={"format": "csv"}).status_code == 422

        # The callback: refused once (503), retried after the back-off, delivered; both attempts signed with
        # the secret the submitter got, both audited; the row says delivered, so no one sends it again.
        def delivered() -> bool:
            with session_scope(settings.resolved_database_url) as session:
                return session.get(JobCallback, job_id).status == "delivered"

        _wait(delivered, "the callback")
        assert len(receiver.received) == 2
        for body, header in receiver.received:
            assert verify_signature(secret, body, header), header
            assert not verify_signature("another secret", body, header)
            sent = json.loads(body)
            assert sent["job_id"] == job_id and sent["status"] == "done" and sent["event"] == "scan.finished"
            assert sent["verdicts_url"] == f"/v1/jobs/{job_id}/verdicts"
        with session_scope(settings.resolved_database_url) as session:
            row = session.get(JobCallback, job_id)
            assert (row.attempts, row.last_error) == (2, None)
            audited = session.scalars(select(AuditLog).where(AuditLog.action == "scan.callback",
                                                             AuditLog.subject_id == job_id)
                                      .order_by(AuditLog.id)).all()
            assert [(a.details["attempt"], a.details["http_status"], a.details["delivered"]) for a in audited] \
                == [(1, 503, False), (2, 200, True)]
            assert all(secret not in json.dumps(a.details) for a in audited)
    finally:
        receiver.close()


def test_a_callback_url_must_be_https_or_loopback(api: tuple[Settings, str]) -> None:
    settings, base_url = api
    owner = _headers(settings, "default")
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for url in ("http://hooks.example.org/done", "http://10.1.2.3/done", "ftp://127.0.0.1/done",
                    "not a url", "https://user:pw@hooks.example.org/done", "http://127.0.0.1:99999/x"):
            refused = client.post("/v1/scan", headers=owner, json={"texts": ["a text"], "callback_url": url})
            assert refused.status_code == 422, (url, refused.text)
            assert "callback_url" in refused.json()["message"], url
        accepted = client.post("/v1/scan", headers=owner, json={"texts": ["a text to scan"],
                                                                "callback_url": "https://hooks.example.org/d"})
        assert accepted.status_code == 202 and len(accepted.json()["callback_secret"]) == 64
        plain = client.post("/v1/scan", headers=owner, json={"texts": ["another text to scan"]})
        assert plain.status_code == 202 and "callback_secret" not in plain.json()


@pytest.mark.parametrize("url", ["https://hooks.example.org/x", "http://127.0.0.1:8080/done", "http://[::1]/a",
                                 "http://localhost:9/cb", "http://127.5.6.7/x"])
def test_accepted_callback_urls(url: str) -> None:
    assert check_callback_url(url) == url


@pytest.mark.parametrize("url", ["http://192.168.1.10/x", "http://169.254.169.254/latest", "gopher://127.0.0.1/",
                                 "https:///no-host", "http://localhost.example.org/x", "x" * 3000])
def test_refused_callback_urls(url: str) -> None:
    with pytest.raises(ProvenanceError, match="callback_url"):
        check_callback_url(url)
