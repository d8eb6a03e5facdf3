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
from provenance.store.models import AuditLog, Document, JobItem, Verdict
from tests.test_api_app import api_settings_for, generate_text, prepare_home

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
            verdict = Verdict(document_id=item.document_id, bundle_version="b1", job_id=job_id, verdict="human",
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


def _path(template: str, world: World) -> str:
    return (template.replace("{manifest_id}", world.manifest_id).replace("{job_id}", world.job_id)
            .replace("{verdict_id}", str(world.verdict_id)))


RULES: dict[tuple[str, str], Rule] = {
    ("post", "/v1/verify"): Rule("verify", body=lambda w: {"text": w.generated_text}),
    ("post", "/v1/verify/batch"): Rule("verify", body=lambda w: {"texts": [w.generated_text]}),
    ("post", "/v1/generate"): Rule("generate", body=lambda w: {"prompt": "A quiet morning", "max_new_tokens": 8}),
    ("post", "/v1/scan"): Rule("scan", body=lambda w: {"texts": ["matrix text"]}, ok=202),
    ("get", "/v1/jobs/{job_id}"): Rule("scan", owned=True),
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
            # An admin names the tenant explicitly: allowed, and audited.
            named = _call(world, method, path, rule, "other_admin", tenant=OWNER)
            assert named.status_code == 200 and named.json()["tenant"] == OWNER, path
            # A non-admin key naming another tenant is refused without disclosing anything.
            assert _call(world, method, path, rule, "other", tenant=OWNER).status_code == 403, path
            assert own.json()["tenant"] == OWNER
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
        assert session.get(Document, session.get(Verdict, world.verdict_id).document_id) is not None
