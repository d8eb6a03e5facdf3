"""The verification API through FastAPI's TestClient: contract, provenance lookup, auth, limits, safety.

The fixtures (``api_settings``, ``api_app``, ``api_client``, ``make_key``) live in
``tests/provenance/conftest.py``. The micro model writes low-entropy text, so the watermark key uses delta 6.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from provenance.settings import Settings
from testkit.verdicts import verdict_row
from testkit.waiting import wait_until
from tests.conftest import install_bundle
from tests.provenance.api_support import api_settings_for, audit_rows, generate_text, prepare_home

WATERMARK_KEYS = {"z_score", "p_value", "watermarked", "num_tokens_scored", "key_id"}
PROVENANCE_KEYS = {"manifest_id", "signature_valid", "near_duplicates"}


def test_generate_then_verify_finds_the_signed_manifest(api_client: TestClient, api_app: FastAPI, make_key) -> None:
    headers = make_key()
    generated = generate_text(api_client, headers)
    assert {"text", "manifest"} <= generated.keys()
    manifest = generated["manifest"]
    assert manifest["signature"]["algorithm"] == "Ed25519" and generated["tokens"] == 56

    result = api_client.post("/v1/verify", headers=headers, json={"text": generated["text"]}).json()
    assert result["watermark"].keys() >= WATERMARK_KEYS and result["provenance"].keys() >= PROVENANCE_KEYS
    assert result["watermark"]["watermarked"] is True
    assert result["watermark"]["key_id"] == manifest["watermark"]["key_id"]
    provenance = result["provenance"]
    assert provenance["manifest_id"] == manifest["id"] and provenance["signature_valid"] is True
    assert provenance["near_duplicates"][0] == {"manifest_id": manifest["id"], "similarity": 1.0,
                                                "signature_valid": True}

    stored = api_client.get(f"/v1/manifests/{manifest['id']}", headers=headers).json()
    assert stored["manifest"] == manifest and stored["signature_valid"] is True

    # Every generate and verify leaves an audit row with hashes, never the raw text.
    generate_audit = [row for row in audit_rows(api_app, "generate") if row.subject_id == manifest["id"]]
    assert len(generate_audit) == 1 and generate_audit[0].actor == f"apikey:{headers['X-Key-Id']}"
    verify_audit = [row for row in audit_rows(api_app, "verify") if row.subject_id == manifest["text_sha256"]]
    assert verify_audit and verify_audit[0].details["manifest_id"] == manifest["id"]
    assert verify_audit[0].details["watermarked"] is True
    assert all(generated["text"] not in json.dumps(row.details) for row in generate_audit + verify_audit)


def test_edited_copy_still_finds_its_manifest(api_client: TestClient, make_key) -> None:
    """Replace 20% of the words (random positions): exact match is gone, the near-duplicate lookup finds it."""
    headers = make_key()
    generated = generate_text(api_client, headers, seed=11, tokens=60)
    words = generated["text"].split()
    rng = random.Random(5)
    for position in rng.sample(range(len(words)), k=round(len(words) * 0.2)):
        words[position] = f"zebra{position}"
    edited = " ".join(words)
    provenance = api_client.post("/v1/verify", headers=headers, json={"text": edited}).json()["provenance"]
    assert provenance["manifest_id"] is None and provenance["match"] == "near_duplicate"
    found = {d["manifest_id"]: d for d in provenance["near_duplicates"]}
    assert generated["manifest"]["id"] in found
    assert 0.1 <= found[generated["manifest"]["id"]]["similarity"] < 1.0
    assert found[generated["manifest"]["id"]]["signature_valid"] is True


def test_ledger_near_duplicates_on_long_texts(api_settings: Settings) -> None:
    """The LSH lookup on 200-word texts, several random 20% edits: always found, unrelated text never."""
    from generator.stamping import build_manifest, sign_manifest
    from provenance.signing import load_or_create_signing_key
    from provenance.store.engine import session_scope
    from provenance.store.ledger import near_duplicates, record_manifest
    from testkit.texts import synthetic_paragraphs

    text = " ".join(synthetic_paragraphs(40, seed=99))
    words = text.split()[:200]
    body = build_manifest(text=" ".join(words), prompt="", model={"name": "x"}, decoding={}, watermark=None)
    manifest = sign_manifest(body, load_or_create_signing_key(api_settings.home))
    url = api_settings.resolved_database_url
    with session_scope(url) as session:
        record_manifest(session, manifest)
    for seed in range(5):
        edited = list(words)
        for position in random.Random(seed).sample(range(len(edited)), k=40):
            edited[position] = f"w{seed}x{position}"
        with session_scope(url) as session:
            assert manifest["id"] in {m.manifest_id for m in near_duplicates(session, " ".join(edited))}
    with session_scope(url) as session:
        other = " ".join(synthetic_paragraphs(40, seed=7)).split()[:200]
        assert manifest["id"] not in {m.manifest_id for m in near_duplicates(session, " ".join(other))}


def test_windowed_adds_spans_and_batch_keeps_order(api_client: TestClient, make_key) -> None:
    headers = make_key("verify")
    generated = generate_text(api_client, make_key(), seed=4)["text"]
    human = "The quiet village waited for the morning train before the storm, as it had done for many years."
    windowed = api_client.post("/v1/verify", headers=headers, json={"text": generated, "windowed": True}).json()
    assert isinstance(windowed["watermark"]["spans"], list)
    batch = api_client.post("/v1/verify/batch", headers=headers, json={"texts": [generated, human]}).json()
    assert [r["watermark"]["watermarked"] for r in batch["results"]] == [True, False]
    watermark_only = api_client.post("/v1/verify", headers=headers, json={"text": generated, "provenance": False})
    assert watermark_only.json()["provenance"] is None and watermark_only.json()["watermark"]["watermarked"]
    assert batch["results"][1]["watermark"]["abstain"] in (True, False)


def test_fpr_decides_at_the_chosen_rate_and_says_too_short(api_client: TestClient, make_key) -> None:
    headers = make_key("verify")
    generated = generate_text(api_client, make_key(), seed=5)["text"]
    body = {"texts": [generated, "Only four words here"], "fpr": 1e-4, "provenance": False}
    marked, short = (r["watermark"] for r in api_client.post("/v1/verify/batch", headers=headers, json=body).json()[
        "results"])
    assert marked["watermarked"] and marked["p_value"] < 1e-4 and marked["p_value_threshold"] == 1e-4
    assert marked["scheme"] == "selfhash" and marked["too_short"] is False and marked["num_tokens_scored"] >= 16
    assert short["too_short"] is True and short["watermarked"] is False and short["min_tokens_required"] == 16
    impossible = api_client.post("/v1/verify", headers=headers, json={"text": generated, "fpr": 1e-300}).json()
    assert impossible["watermark"]["min_tokens_required"] == 499  # 0.25 ** 499 < 1e-300 <= 0.25 ** 498
    for bad in (0, 1, -0.5, "often"):
        assert api_client.post("/v1/verify", headers=headers, json={"text": "x", "fpr": bad}).status_code == 422


def test_size_limits_answer_413(api_client: TestClient, make_key) -> None:
    headers = make_key("verify")
    too_long = api_client.post("/v1/verify", headers=headers, json={"text": "a" * 5001})
    assert too_long.status_code == 413 and too_long.json()["error"] == "payload_too_large"
    too_many = api_client.post("/v1/verify/batch", headers=headers, json={"texts": ["a b c"] * 5})
    assert too_many.status_code == 413 and "limit is 4" in too_many.json()["message"]
    huge = api_client.post("/v1/verify", headers=headers, content=b'{"text": "' + b"a" * 70_000 + b'"}',
                           )
    assert huge.status_code == 413 and huge.json()["error"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed body is counted instead
        yield b'{"text": "'
        for _ in range(80):
            yield b"a" * 1000
        yield b'"}'

    streamed = api_client.post("/v1/verify", headers={**headers, "Content-Type": "application/json"},
                               content=chunks())
    assert streamed.status_code == 413


@pytest.mark.parametrize("payload", [b"not json", b'{"text": 5}', b'{"txt": "x"}', b'{"text": "x", "windowd": 1}',
                                     b"[]", b'{"text": "\\ud800"}'])
def test_bad_bodies_are_clear_4xx(api_client: TestClient, make_key, payload: bytes) -> None:
    response = api_client.post("/v1/verify", headers={**make_key("verify"), "Content-Type": "application/json"},
                               content=payload)
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["error"] and body["message"] and "Traceback" not in response.text


def test_generate_rejects_bad_sampling(api_client: TestClient, make_key) -> None:
    headers = make_key("generate")
    for payload in ({"prompt": "The", "max_new_tokens": 0}, {"prompt": "", "max_new_tokens": 5},
                    {"prompt": "The", "temperature": -1}, {"prompt": "The", "max_new_tokens": 8, "min_new_tokens": 9}):
        response = api_client.post("/v1/generate", headers=headers, json=payload)
        assert response.status_code == 422, (payload, response.text)
        assert response.json()["message"]


def test_auth_missing_bad_wrong_scope_and_revoked(api_client: TestClient, api_app: FastAPI, api_settings, make_key,
                                                  ) -> None:
    from provenance.apikeys import revoke_api_key

    body = {"text": "some text to check"}
    assert api_client.post("/v1/verify", json=body).status_code == 401
    assert api_client.post("/v1/verify", json=body, headers={"Authorization": "Basic abc"}).status_code == 401
    assert api_client.post("/v1/verify", json=body, headers={"Authorization": "Bearer pvk_nope"}).status_code == 401
    missing = api_client.post("/v1/verify", json=body, headers={"Authorization": "Bearer "})
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    verify_only = make_key("verify")
    forbidden = api_client.post("/v1/generate", headers=verify_only, json={"prompt": "The", "max_new_tokens": 4})
    assert forbidden.status_code == 403 and "generate" in forbidden.json()["message"]
    assert api_client.get("/v1/jobs/abc", headers=verify_only).status_code == 403
    admin = make_key("admin")  # admin implies every scope
    assert api_client.post("/v1/verify", json=body, headers=admin).status_code == 200

    assert api_client.post("/v1/verify", json=body, headers=verify_only).status_code == 200
    revoke_api_key(api_settings.resolved_database_url, verify_only["X-Key-Id"])
    api_app.state.services.keys.clear()  # stands in for the 5-second cache lifetime
    revoked = api_client.post("/v1/verify", json=body, headers=verify_only)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["message"]


def test_revocation_reaches_a_cache_after_its_lifetime(api_settings: Settings) -> None:
    from provenance.api.auth import KeyCache
    from provenance.apikeys import create_api_key, revoke_api_key

    url = api_settings.resolved_database_url
    key_id, key = create_api_key(url, name="cache", scopes="verify")
    cached, uncached = KeyCache(url, ttl=3600), KeyCache(url, ttl=0)
    assert cached.lookup(key).id == key_id and uncached.lookup(key).id == key_id
    revoke_api_key(url, key_id)
    assert cached.lookup(key) is not None  # still within its lifetime
    assert uncached.lookup(key) is None  # expired entries are re-read


def test_request_limit_gives_429_with_retry_after(api_client: TestClient, make_key) -> None:
    headers = make_key("verify", rpm=3)
    statuses = [api_client.post("/v1/verify", headers=headers, json={"text": "x y z"}).status_code
                for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    refused = api_client.post("/v1/verify", headers=headers, json={"text": "x y z"})
    assert refused.json()["error"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    assert 'provenance_api_rate_limited_total{limit="requests"}' in api_client.get("/metrics").text


def test_generated_token_limit(api_client: TestClient, make_key) -> None:
    headers = make_key("generate", tpm=60)
    payload = {"prompt": "The", "max_new_tokens": 40, "min_new_tokens": 40, "seed": 1}
    first = api_client.post("/v1/generate", headers=headers, json=payload)
    assert first.status_code == 200 and first.json()["tokens"] == 40
    second = api_client.post("/v1/generate", headers=headers, json=payload)
    assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
    assert "token" in second.json()["message"]
    assert api_client.post("/v1/generate", headers=headers, json={**payload, "max_new_tokens": 10,
                                                                  "min_new_tokens": 10}).status_code == 200
    metrics = api_client.get("/metrics").text
    assert 'provenance_api_rate_limited_total{limit="tokens"}' in metrics
    assert "provenance_api_generated_tokens_total" in metrics


def test_public_key_health_metrics_docs(api_client: TestClient, api_settings: Settings) -> None:
    from provenance.signing import load_or_create_signing_key, public_key_pem

    pem = api_client.get("/v1/keys/public")
    expected = public_key_pem(load_or_create_signing_key(api_settings.home).public_key()).decode()
    assert pem.status_code == 200 and pem.text == expected
    assert api_client.get("/healthz").json() == {"status": "ok"}
    ready = api_client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = api_client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'provenance_api_requests_total{method="GET",route="/readyz",status="200"}' in metrics.text
    assert "provenance_api_request_duration_seconds_bucket" in metrics.text
    assert api_client.get("/docs").status_code == 200
    spec = api_client.get("/openapi.json").json()
    assert {"/v1/verify", "/v1/verify/batch", "/v1/generate", "/v1/scan", "/v1/jobs/{job_id}",
            "/v1/verdicts/{verdict_id}", "/v1/manifests/{manifest_id}", "/v1/keys/public"} <= set(spec["paths"])


def test_lookups_of_unknown_ids_are_404(api_client: TestClient, make_key) -> None:
    headers = make_key()
    for path in ("/v1/manifests/nope", "/v1/verdicts/123456", "/v1/verdicts/0"):
        response = api_client.get(path, headers=headers)
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert api_client.get("/v1/verdicts/abc", headers=headers).status_code == 422
    assert api_client.get("/v1/nothing-here").status_code == 404


def test_verdict_lookup_reads_the_store(api_client: TestClient, api_settings: Settings, make_key) -> None:
    from provenance.store.engine import session_scope
    from provenance.store.models import Document, JobItem, ScanJob

    with session_scope(api_settings.resolved_database_url) as session:
        document = Document(content_hash="ab" * 32, source_id="doc-1", num_chars=10, redacted_text="Hi <PERSON_1>")
        session.add_all([document, ScanJob(id="lookupjob", bundle_version="b1", inputs={})])
        session.flush()
        # The record id a reader sees is its own job item's (as the pipeline writes it), not the document's.
        session.add(JobItem(job_id="lookupjob", seq=0, source_id="doc-1", outcome="document",
                            document_id=document.id))
        verdict = verdict_row(document_id=document.id, bundle_version="b1", verdict="human", p_machine=0.1,
                          detectors={"ll": -3.0}, reasons=[], pii=[], pii_count=1, watermark={})
        session.add(verdict)
        session.flush()
        verdict_id = verdict.id
    record = api_client.get(f"/v1/verdicts/{verdict_id}", headers=make_key("scan")).json()
    assert record["verdict"] == "human" and record["document"]["source_id"] == "doc-1"
    assert record["document"]["redacted_text"] == "Hi <PERSON_1>"


def test_no_secret_in_responses_or_logs(api_client: TestClient, api_settings: Settings, make_key,
                                        caplog: pytest.LogCaptureFixture) -> None:
    from provenance.keystore import KeyStore

    headers = make_key()
    key = headers["Authorization"].removeprefix("Bearer ")
    watermark_secrets = [stored.key.secret.hex() for stored in KeyStore(api_settings.home).all()]
    caplog.set_level(logging.DEBUG)
    bodies = [api_client.post("/v1/verify", headers=headers, json={"text": "hello there friend"}).text,
              api_client.post("/v1/verify", headers={"Authorization": f"Bearer {key}x"}, json={"text": "x"}).text,
              generate_text(api_client, headers, seed=8).__repr__(), api_client.get("/openapi.json").text,
              api_client.get("/metrics").text]
    for text in bodies + [caplog.text]:
        assert key not in text
        assert not any(secret in text for secret in watermark_secrets)


def test_cors_is_off_unless_configured(api_client: TestClient, tmp_path: Path, micro_model_dir: Path) -> None:
    from provenance.api import create_app

    preflight = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in api_client.options("/v1/verify", headers=preflight).headers
    settings = api_settings_for(tmp_path / "home", micro_model_dir, api_cors_origins=["https://example.org"])
    with TestClient(create_app(settings)) as client:
        allowed = client.options("/v1/verify", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://example.org"


def test_detect_without_a_bundle_still_answers(api_client: TestClient, make_key) -> None:
    response = api_client.post("/v1/verify", headers=make_key("verify"),
                               json={"text": "The old captain walked toward the harbour before the storm.",
                                     "detect": True})
    assert response.status_code == 200, response.text
    detection = response.json()["detection"]
    assert detection["verdict"] is None and "detection ensemble is unavailable" in detection["error"]
    assert response.json()["watermark"]["watermarked"] is False


def test_scan_texts_then_read_the_job(api_client: TestClient, api_settings: Settings, make_key) -> None:
    """Submission only (no worker runs here): the job exists, counts its records and is readable by id."""
    headers = make_key("scan")
    submitted = api_client.post("/v1/scan", headers=headers,
                                json={"records": [{"id": "a", "text": "first text to scan"},
                                                  {"id": "b", "text": "second text to scan"}]})
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["job_id"]
    assert submitted.json()["status_url"] == f"/v1/jobs/{job_id}"
    job = api_client.get(f"/v1/jobs/{job_id}", headers=headers).json()
    assert {"job_id", "status", "total", "scored", "quarantined", "duplicates"} <= job.keys()
    assert job["job_id"] == job_id and job["total"] == 2
    assert api_client.get("/v1/jobs/unknown", headers=headers).status_code == 404
    plain = api_client.post("/v1/scan", headers=headers, json={"texts": ["one text"]})
    assert plain.status_code == 202

    for payload in ({}, {"texts": []}, {"texts": ["x"], "path": "/tmp"}):
        response = api_client.post("/v1/scan", headers=headers, json=payload)
        assert response.status_code == 422 and response.json()["message"], payload
    root = api_settings.scan_roots[0]
    data = root / "dump.jsonl"
    data.write_text('{"id": 1, "text": "a text on the server"}\n')
    forbidden = api_client.post("/v1/scan", headers=headers, json={"path": str(data)})
    assert forbidden.status_code == 403 and "admin" in forbidden.json()["message"]
    admin = make_key("admin")
    missing = api_client.post("/v1/scan", headers=admin, json={"path": str(root / "missing.jsonl")})
    assert missing.status_code == 403 and "PROVENANCE_SCAN_ROOTS" in missing.json()["message"]
    by_path = api_client.post("/v1/scan", headers=admin, json={"path": str(data)})
    assert by_path.status_code == 202
    # the file is submitted in the background: wait for its one record
    job = wait_until(lambda: api_client.get(f"/v1/jobs/{by_path.json()['job_id']}", headers=admin).json(),
                     timeout=10, interval=0.05, done=lambda j: j["total"] >= 1, what="the job's record")
    assert job["total"] == 1


@pytest.mark.slow
def test_detect_returns_the_ensemble_verdict(tmp_path: Path, micro_model_dir: Path, trained_bundle: Path) -> None:

    from provenance.api import create_app
    from provenance.apikeys import create_api_key

    settings = api_settings_for(tmp_path / "home", micro_model_dir)
    prepare_home(settings)
    install_bundle(trained_bundle, settings.home)
    _key_id, key = create_api_key(settings.resolved_database_url, name="d", scopes="verify")
    with TestClient(create_app(settings)) as client:
        text = "The old captain walked toward the harbour before the storm. My sister remembered the long road."
        result = client.post("/v1/verify", headers={"Authorization": f"Bearer {key}"},
                             json={"text": text, "detect": True}).json()
    assert result["detection"]["verdict"] in {"machine", "human", "uncertain", "abstain"}
    assert "p_machine" in result["detection"]
