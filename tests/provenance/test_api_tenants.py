"""Tenant isolation and the authorisation matrix of the verification API, generated from its OpenAPI schema.

Every operation in ``/openapi.json`` needs a rule in ``RULES`` (a new route without one fails the matrix), and
each rule is exercised with five callers: no key, a key lacking the scope, another tenant's key with the scope,
the owner's key, and an admin key of another tenant (with and without the explicit ``tenant`` parameter).
Another tenant's ids must read exactly like ids that do not exist (existence is not disclosed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from provenance.apikeys import create_api_key
from provenance.settings import Settings
from provenance.store.engine import session_scope
from provenance.store.models import AuditLog, Document, JobItem, VerdictRow
from testkit.verdicts import verdict_row
from tests.provenance.api_support import api_settings_for, generate_text, prepare_home

OWNER, OTHER = "newsroom", "partner"


@dataclass
class World:
    """Records owned by OWNER, and Authorization headers for every kind of caller."""

    client: TestClient
    app: FastAPI
    settings: Settings
    headers: dict[str, dict[str, str]]
    manifest_id: str
    generated_text: str
    job_id: str
    verdict_id: int


def _key(settings: Settings, scopes: str, tenant: str) -> dict[str, str]:
    _id, key = create_api_key(settings.resolved_database_url, name=f"{tenant}-{scopes}", scopes=scopes,
                              requests_per_minute=100_000, tokens_per_minute=1_000_000, tenant=tenant)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, micro_model_dir: Path) -> Iterator[World]:
    from provenance.api import create_app

    root = tmp_path_factory.mktemp("tenant-scan-root")
    settings = api_settings_for(tmp_path_factory.mktemp("tenant-home"), micro_model_dir, scan_roots=[root])
    prepare_home(settings)
    headers = {
        "owner": _key(settings, "verify,generate,scan", OWNER),
        "other": _key(settings, "verify,generate,scan", OTHER),
        "owner_verify_only": _key(settings, "verify", OWNER),
        "owner_scan_only": _key(settings, "scan", OWNER),
        "owner_admin": _key(settings, "admin", OWNER),
        "other_admin": _key(settings, "admin", OTHER),
        "platform_admin": _key(settings, "platform-admin", OTHER),
    }
    app = create_app(settings)
    with TestClient(app) as client:
        generated = generate_text(client, headers["owner"], seed=4)
        manifest = generated["manifest"]
        scanned = client.post("/v1/scan", headers=headers["owner"], json={"texts": ["a text the newsroom owns"]})
        assert scanned.status_code == 202, scanned.text
        job_id = scanned.json()["job_id"]
        with session_scope(settings.resolved_database_url) as session:  # no worker here: write the verdict
            item = session.scalars(select(JobItem).where(JobItem.job_id == job_id)).one()
            verdict = verdict_row(document_id=item.document_id, bundle_version="b1", job_id=job_id, verdict="human",
                              p_machine=0.1, detectors={}, reasons=[], pii=[], watermark={})
            session.add(verdict)
            session.flush()
            verdict_id = verdict.id
        yield World(client, app, settings, headers, manifest["id"], generated["text"], job_id, verdict_id)


# One rule per operation: the scope it needs and, for reads of owned records, the path with a real id.
@dataclass(frozen=True)
class Rule:
    scope: str | None  # None: public
    owned: bool = False  # reads one tenant's record: other tenants get 404
    body: Callable[[World], dict[str, Any]] | None = None
    ok: int = 200
    tenant_of: Callable[[Any], str] = lambda response: response.json()["tenant"]  # whose records were read


def _path(template: str, world: World) -> str:
    return (template.replace("{manifest_id}", world.manifest_id).replace("{job_id}", world.job_id)
            .replace("{verdict_id}", str(world.verdict_id)))


RULES: dict[tuple[str, str], Rule] = {
    ("post", "/v1/verify"): Rule("verify", body=lambda w: {"text": w.generated_text}),
    ("post", "/v1/verify/batch"): Rule("verify", body=lambda w: {"texts": [w.generated_text]}),
    ("post", "/v1/generate"): Rule("generate", body=lambda w: {"prompt": "A quiet morning", "max_new_tokens": 8}),
    ("post", "/v1/scan"): Rule("scan", body=lambda w: {"texts": ["matrix text"]}, ok=202),
    ("get", "/v1/jobs/{job_id}"): Rule("scan", owned=True),
    ("get", "/v1/jobs/{job_id}/verdicts"): Rule("scan", owned=True),
    ("get", "/v1/jobs/{job_id}/export"): Rule("scan", owned=True,
                                              tenant_of=lambda response: response.headers["X-Provenance-Tenant"]),
    ("get", "/v1/verdicts/{verdict_id}"): Rule("scan", owned=True),
    ("get", "/v1/manifests/{manifest_id}"): Rule("verify", owned=True),
    ("get", "/v1/keys/public"): Rule(None),
    ("get", "/healthz"): Rule(None),
    ("get", "/readyz"): Rule(None),
    ("get", "/metrics"): Rule(None),
}
WRONG_SCOPE = {"verify": "owner_scan_only", "generate": "owner_scan_only", "scan": "owner_verify_only"}


def _call(world: World, method: str, path: str, rule: Rule, caller: str | None, **params: str) -> Any:
    headers = world.headers[caller] if caller else {}
    kwargs: dict[str, Any] = {"headers": headers, "params": params or None}
    if rule.body is not None:
        kwargs["json"] = rule.body(world)
    return world.client.request(method.upper(), _path(path, world), **kwargs)


def operations(world: World) -> list[tuple[str, str]]:
    spec = world.client.get("/openapi.json").json()
    return [(method, path) for path, item in spec["paths"].items() for method in item
            if method in {"get", "post", "put", "patch", "delete"}]


def test_every_route_has_an_authorisation_rule(world: World) -> None:
    missing = [op for op in operations(world) if op not in RULES]
    assert not missing, f"routes without an authorisation rule in RULES: {missing}"


def test_authorisation_matrix(world: World) -> None:
    cross_reads: list[str] = []
    for method, path in operations(world):
        rule = RULES[(method, path)]
        if rule.scope is None:
            assert _call(world, method, path, rule, None).status_code == 200, path
            continue
        assert _call(world, method, path, rule, None).status_code == 401, path
        assert _call(world, method, path, rule, WRONG_SCOPE[rule.scope]).status_code == 403, path
        own = _call(world, method, path, rule, "owner")
        assert own.status_code == rule.ok, (path, own.text)
        assert _call(world, method, path, rule, "owner_admin").status_code == rule.ok, path
        other = _call(world, method, path, rule, "other")
        other_admin = _call(world, method, path, rule, "other_admin")
        if rule.owned:
            for response in (other, other_admin):
                if response.status_code != 404:
                    cross_reads.append(f"{method} {path}: {response.status_code}")
            # A missing id of the same shape answers the same way: existence is not disclosed.
            missing = world.client.request(method.upper(), re.sub(r"\{[a-z_]+\}", "999999", path),
                                           headers=world.headers["other"])
            assert missing.status_code == other.status_code == 404
            assert set(missing.json()) == set(other.json())
            # A platform admin names the tenant explicitly: allowed, and audited. A tenant's admin cannot.
            named = _call(world, method, path, rule, "platform_admin", tenant=OWNER)
            assert named.status_code == 200 and rule.tenant_of(named) == OWNER, path
            assert _call(world, method, path, rule, "other_admin", tenant=OWNER).status_code == 403, path
            # A non-admin key naming another tenant is refused without disclosing anything.
            assert _call(world, method, path, rule, "other", tenant=OWNER).status_code == 403, path
            assert rule.tenant_of(own) == OWNER
        else:
            assert other.status_code == rule.ok, path
    assert cross_reads == []
    world.app.state.services.audit.flush()
    with session_scope(world.settings.resolved_database_url) as session:
        audited = session.scalars(select(AuditLog).where(AuditLog.action == "tenant.cross_read")).all()
    assert len(audited) >= 3 and {row.subject_id for row in audited} == {OWNER}


def test_verify_finds_only_the_callers_own_manifests(world: World) -> None:
    own = world.client.post("/v1/verify", headers=world.headers["owner"], json={"text": world.generated_text})
    other = world.client.post("/v1/verify", headers=world.headers["other"], json={"text": world.generated_text})
    assert own.json()["provenance"]["manifest_id"] == world.manifest_id
    assert other.json()["provenance"]["manifest_id"] is None
    assert other.json()["provenance"]["near_duplicates"] == []
    edited = world.generated_text.replace(" the ", " a ", 1) + " And then it rained."
    near = world.client.post("/v1/verify", headers=world.headers["other"], json={"text": edited}).json()
    assert all(d["manifest_id"] != world.manifest_id for d in near["provenance"]["near_duplicates"])


def test_a_shared_document_does_not_leak_the_other_tenants_job(world: World) -> None:
    """Documents are stored once by content: a second tenant scanning the same text reads the verdict through
    its own job, without the first tenant's job id."""
    scanned = world.client.post("/v1/scan", headers=world.headers["other"],
                                json={"texts": ["a text the newsroom owns"]})
    assert scanned.status_code == 202
    record = world.client.get(f"/v1/verdicts/{world.verdict_id}", headers=world.headers["other"]).json()
    assert record["tenant"] == OTHER and record["job_id"] is None
    assert world.client.get(f"/v1/jobs/{world.job_id}", headers=world.headers["other"]).status_code == 404


def test_scans_and_generations_are_owned_by_the_keys_tenant(world: World) -> None:
    from provenance.store.models import Manifest, ScanJob

    with session_scope(world.settings.resolved_database_url) as session:
        assert session.get(ScanJob, world.job_id).tenant == OWNER
        assert session.get(Manifest, world.manifest_id).tenant == OWNER
        assert session.get(Document, session.get(VerdictRow, world.verdict_id).document_id) is not None


# --- same text, two tenants: response bodies -----------------------------------------------------------------


def _scan_one(world: World, caller: str, record_id: str, text: str) -> tuple[str, int]:
    """Scan one record as ``caller``; returns (job id, document id)."""
    scanned = world.client.post("/v1/scan", headers=world.headers[caller],
                                json={"records": [{"id": record_id, "text": text}]})
    assert scanned.status_code == 202, scanned.text
    job_id = scanned.json()["job_id"]
    with session_scope(world.settings.resolved_database_url) as session:
        return job_id, session.scalars(select(JobItem.document_id).where(JobItem.job_id == job_id)).one()


def test_same_text_two_tenants_reveals_nothing_of_the_other(world: World) -> None:
    """The newsroom generates a text (its ledger holds the manifest) and scans it under its own record id; the
    pipeline (played here) matched it against the whole ledger and so did not flag it for review. The partner
    scans the very same text: its bodies carry its own record id, no ledger match, and the review flag its own
    ledger gives (watermarked, no match: needs review): 0 bytes of the newsroom's ids or ledger."""
    generated = generate_text(world.client, world.headers["owner"], seed=11)
    text, manifest_id = generated["text"], generated["manifest"]["id"]
    owner_job, document_id = _scan_one(world, "owner", "newsroom-wire-0042", text)
    with session_scope(world.settings.resolved_database_url) as session:
        verdict = verdict_row(document_id=document_id, bundle_version="b1", job_id=owner_job, verdict="machine",
                          p_machine=0.93, margin=0.4, detectors={}, reasons=[], pii=[], watermarked=True,
                          watermark={"watermarked": True, "z_score": 9.1,
                                     "provenance": {"manifest_id": manifest_id, "kind": "exact"}},
                          ledger_manifest_id=manifest_id, needs_review=False, review_priority=0.0)
        session.add(verdict)
        session.flush()
        verdict_id = verdict.id
    other_job, other_document = _scan_one(world, "other", "partner-7", text)
    assert other_document == document_id  # stored once by content: the shared case

    own = world.client.get(f"/v1/verdicts/{verdict_id}", headers=world.headers["owner"])
    assert own.status_code == 200
    assert own.json()["document"]["source_id"] == "newsroom-wire-0042"
    assert own.json()["ledger_manifest_id"] == manifest_id and own.json()["needs_review"] is False
    assert own.json()["job_id"] == owner_job

    other = world.client.get(f"/v1/verdicts/{verdict_id}", headers=world.headers["other"])
    assert other.status_code == 200
    body = other.json()
    assert body["tenant"] == OTHER and body["document"]["source_id"] == "partner-7"
    assert body["ledger_manifest_id"] is None and "provenance" not in body["watermark"]
    assert body["needs_review"] is True  # what the partner's own ledger says: a watermark nobody explains
    assert body["job_id"] is None
    other_bodies = [other.text,
                    world.client.get(f"/v1/jobs/{other_job}", headers=world.headers["other"]).text,
                    world.client.post("/v1/verify", headers=world.headers["other"], json={"text": text}).text]
    for secret in ("newsroom-wire-0042", manifest_id, owner_job, OWNER):
        assert all(secret not in raw for raw in other_bodies), secret

    # And the other way round: the partner's record id never reaches the newsroom.
    again = world.client.get(f"/v1/verdicts/{verdict_id}", headers=world.headers["owner"]).text
    assert "partner-7" not in again and other_job not in again


def test_a_tenant_that_gave_no_record_id_sees_none(world: World) -> None:
    """The first submitter's id is never a fallback: a tenant that sent a bare text sees its own index."""
    text = "A plain paragraph both tenants happen to hold, about a harbour at dawn."
    owner_job, document_id = _scan_one(world, "owner", "newsroom-private-id", text)
    with session_scope(world.settings.resolved_database_url) as session:
        verdict = verdict_row(document_id=document_id, bundle_version="b1", job_id=owner_job, verdict="human",
                          p_machine=0.1, detectors={}, reasons=[], pii=[], watermark={})
        session.add(verdict)
        session.flush()
        verdict_id = verdict.id
    scanned = world.client.post("/v1/scan", headers=world.headers["other"], json={"texts": [text]})
    assert scanned.status_code == 202
    raw = world.client.get(f"/v1/verdicts/{verdict_id}", headers=world.headers["other"]).text
    assert "newsroom-private-id" not in raw


def test_metrics_carry_no_tenant_data(world: World) -> None:
    """/metrics is unauthenticated (scrapers): it counts by route template, never by tenant, key or record."""
    _call(world, "get", "/v1/jobs/{job_id}", RULES[("get", "/v1/jobs/{job_id}")], "owner")
    _call(world, "get", "/v1/manifests/{manifest_id}", RULES[("get", "/v1/manifests/{manifest_id}")], "other")
    body = world.client.get("/metrics").text
    assert "/v1/jobs/{job_id}" in body  # the template, not the id
    for secret in (OWNER, OTHER, world.job_id, world.manifest_id, "tenant="):
        assert secret not in body, secret
