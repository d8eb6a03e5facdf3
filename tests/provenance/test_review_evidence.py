"""The item page's explanations (``provenance.review.evidence``), the PII types on offer, the audit filters and
the dashboard's session tokens, on a real SQLite store with real bundles trained on the micro model."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from provenance import review
from provenance.pipeline.document_scoring import review_priority
from provenance.review.accounts import add_reviewer, authenticate, record_session_end, set_password
from provenance.review.session_tokens import issue_token, resume
from provenance.settings import Settings
from provenance.store import AuditLog, Document, ScanJob, VerdictRow, session_scope, upgrade, utcnow
from provenance.store.audit import audit
from testkit.texts import synthetic_toxicity_rows
from testkit.verdicts import verdict_row
from tests.conftest import install_bundle, resign_bundle


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'evidence.sqlite'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite and a real PostgreSQL (LIKE escaping and case folding differ between them)."""
    url = f"sqlite:///{tmp_path / 'evidence.sqlite'}" if request.param == "sqlite" else \
        request.getfixturevalue("postgres_url")
    upgrade(url)
    return url


def add_verdict(url: str, text: str = "An invented letter about the harbour and its lamps.", *,
                job_id: str | None = None, **columns) -> int:
    """One document and its verdict, with the review priority the pipeline's own function gives it."""
    values = {"bundle_version": "demo", "p_machine": 0.5, "verdict": "uncertain", "margin": 0.2,
              "detectors": {}, "watermark": {}, "watermarked": False, "pii": [], "pii_count": 0, "pii_types": "",
              "misuse": False, "ledger_manifest_id": None, **columns}
    _, priority = review_priority(misuse=values["misuse"], watermarked=values["watermarked"],
                                  verdict=values["verdict"], p_machine=values["p_machine"], margin=values["margin"],
                                  pii_count=values["pii_count"], ledger_match=values["ledger_manifest_id"] is not None)
    values.setdefault("review_priority", priority)
    with session_scope(url) as db:
        document = Document(content_hash=str(abs(hash((text, job_id, tuple(columns))))).rjust(64, "0"),
                            source_id=None, num_chars=len(text), redacted_text=text)
        db.add(document)
        db.flush()
        verdict = verdict_row(document_id=document.id, job_id=job_id, needs_review=True, **values)
        db.add(verdict)
        db.flush()
        return verdict.id


def load(url: str, verdict_id: int) -> VerdictRow:
    with session_scope(url) as db:
        verdict = db.get(VerdictRow, verdict_id)
        db.expunge(verdict)
        return verdict


# -- the priority's parts --------------------------------------------------------------------------------------
def test_priority_parts_sum_to_the_stored_priority_with_each_signals_rule(store: str) -> None:
    entities = [{"type": "PERSON", "start": 0, "end": 2, "score": 0.9}] * 2
    verdict_id = add_verdict(store, verdict="machine", p_machine=0.91, margin=0.03, misuse=True, watermarked=True,
                             pii=entities, pii_count=2, pii_types=",PERSON,")
    breakdown = review.priority_parts(load(store, verdict_id))
    shares = {part.signal: part.share for part in breakdown.parts}
    assert shares["toxicity"] == 4.0 and shares["watermark"] == 3.0 and shares["detection"] == 1.5
    assert shares["pii"] == pytest.approx(0.4) and shares["provenance"] == 0.0
    assert breakdown.total == pytest.approx(sum(shares.values())) == pytest.approx(breakdown.stored)
    assert breakdown.matches_stored
    rules = {part.signal: part.rule for part in breakdown.parts}
    assert "misuse" in rules["toxicity"].lower() and "ledger" in rules["watermark"]


def test_priority_parts_with_a_readers_own_ledger_answer(store: str) -> None:
    """A tenant whose ledger holds the match: the unexplained-watermark share falls away, and the breakdown
    says its total differs from the stored (whole-ledger) priority."""
    verdict_id = add_verdict(store, verdict="human", p_machine=0.05, margin=0.3, watermarked=True)
    verdict = load(store, verdict_id)
    assert review.priority_parts(verdict).total == 3.0
    mine = review.priority_parts(verdict, ledger_match=True)
    assert mine.total == 0.0 and mine.stored == 3.0 and not mine.matches_stored and mine.ledger_match


def test_uncertain_share_grows_as_p_machine_nears_one_half(store: str) -> None:
    near = review.priority_parts(load(store, add_verdict(store, p_machine=0.52)))
    far = review.priority_parts(load(store, add_verdict(store, p_machine=0.7, text="Another invented note.")))
    shares = [next(p.share for p in b.parts if p.signal == "detection") for b in (near, far)]
    assert shares[0] > shares[1] >= 2.0


# -- toxicity --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toxicity_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a toxicity bundle trained here on synthetic rows (two sources)."""
    from provenance.toxicity import train_default_toxicity

    home = tmp_path_factory.mktemp("toxicity-home")
    data = tmp_path_factory.mktemp("toxicity-data")
    rows = synthetic_toxicity_rows(300, seed=5)
    for source in ("chat", "forum"):
        lines = [json.dumps(row) for row in rows if row["source"] == source]
        (data / f"{source}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    train_default_toxicity(Settings(home=home), [data], max_per_source=100)
    return home


def test_a_toxic_misuse_flag_shows_score_categories_and_the_bundles_threshold(store: str,
                                                                              toxicity_home: Path) -> None:
    from provenance.toxicity import ToxicityService

    settings = Settings(home=toxicity_home)
    service = ToxicityService(settings)
    (record,) = service.score(["you are a pathetic moron and everyone knows it"], blocking=False)
    assert record["toxic"]
    verdict_id = add_verdict(store, verdict="human", p_machine=0.1, toxicity=record, p_toxic=record["p_toxic"],
                             misuse=True, models={"toxicity": service.version})
    found = review.toxicity_evidence(settings, load(store, verdict_id))
    assert found.scored and found.misuse and found.toxic
    assert found.p_toxic == pytest.approx(record["p_toxic"]) and found.categories == record["categories"]
    assert found.threshold == pytest.approx(service.threshold)
    assert found.target_fpr is not None and str(service.version) in found.threshold_note
    assert len(found.rules_fired) == 1 and "threshold" in found.rules_fired[0]
    assert "does not replace" in found.separate


def test_machine_text_leaning_toxic_is_misuse_under_the_threshold_and_says_which_rule(store: str,
                                                                                     toxicity_home: Path) -> None:
    """The issue's case: misuse flagged with ``toxic: false`` and p_toxic between 0.5 and the threshold."""
    settings = Settings(home=toxicity_home)
    from provenance.toxicity import ToxicityService

    service = ToxicityService(settings)
    invented = {"p_toxic": 0.55, "toxic": False, "categories": ["offensive"], "note": None}
    verdict_id = add_verdict(store, verdict="machine", p_machine=0.95, margin=0.3, toxicity=invented,
                             p_toxic=0.55, misuse=True, models={"toxicity": service.version})
    found = review.toxicity_evidence(settings, load(store, verdict_id))
    assert found.misuse and not found.toxic and found.machine_rule == 0.5
    assert len(found.rules_fired) == 1 and "machine-generated" in found.rules_fired[0]


def test_toxicity_threshold_is_not_guessed_for_another_bundle_or_none(store: str, toxicity_home: Path,
                                                                      tmp_path: Path) -> None:
    invented = {"p_toxic": 0.2, "toxic": False, "categories": [], "note": None}
    verdict_id = add_verdict(store, toxicity=invented, p_toxic=0.2, models={"toxicity": "toxicity:0123456789ab"})
    other = review.toxicity_evidence(Settings(home=toxicity_home), load(store, verdict_id))
    assert other.threshold is None and "not known" in other.threshold_note and not other.rules_fired
    missing = review.toxicity_evidence(Settings(home=tmp_path / "empty-home"), load(store, verdict_id))
    assert missing.threshold is None and "not installed" in missing.threshold_note
    unscored = review.toxicity_evidence(Settings(home=toxicity_home), load(store, add_verdict(store, text="Plain.")))
    assert not unscored.scored and "no toxicity bundle scored" in unscored.threshold_note


# -- the watermark's rule --------------------------------------------------------------------------------------
def test_watermark_rule_names_the_threshold_keys_and_tokens() -> None:
    default = review.watermark_rule({"z_score": 3.5, "p_value": 5e-4, "num_tokens_scored": 120, "keys_tested": 1,
                                     "p_value_threshold": 3.167e-05, "fpr": None, "min_tokens_required": 16})
    assert default.decided and default.z_threshold == pytest.approx(4.0, abs=1e-3)
    assert default.tokens_scored == 120 and default.tokens_required == 16 and "z > 4" in default.rule
    two_keys = review.watermark_rule({"p_value": 0.3, "keys_tested": 2, "p_value_threshold": 1e-3, "fpr": 1e-3})
    assert two_keys.z_threshold > 3.09 and "2 keys" in two_keys.rule and "0.001" in two_keys.rule
    old = review.watermark_rule({"z_score": 1.0, "p_value": 0.2})  # stored before the threshold was
    assert old.p_threshold == pytest.approx(3.167e-05, rel=1e-3) and "older" in old.rule
    short = review.watermark_rule({"too_short": True, "num_tokens_scored": 9, "min_tokens_required": 30,
                                   "p_value": None, "p_value_threshold": 1e-3, "fpr": 1e-3})
    assert not short.decided and "Too short" in short.rule and "30 needed" in short.rule


# -- the detector chart's human range --------------------------------------------------------------------------
def test_detector_scores_are_scaled_against_the_bundles_human_range(store: str, clean_env: Path,
                                                                     trained_bundle: Path) -> None:
    from provenance.bundles import bundle_version

    directory = install_bundle(trained_bundle, clean_env)
    settings = Settings(home=clean_env)
    card = json.loads((directory / "card.json").read_text())
    reference = card["metrics"]["human_reference"]
    assert {"fast_detectgpt", "classifier"} <= set(reference)
    fast = reference["fast_detectgpt"]
    assert fast["p5"] <= fast["p50"] <= fast["p95"] and fast["n"] > 50
    version = bundle_version(settings, "default")
    high = fast["p50"] + 2 * (fast["p95"] - fast["p50"])
    verdict_id = add_verdict(store, bundle_version=version, detectors={"fast_detectgpt": high,
                                                                       "classifier": reference["classifier"]["p50"]})
    scale = review.detector_scale(settings, load(store, verdict_id))
    bars = {bar.name: bar for bar in scale.bars}
    assert bars["fast_detectgpt"].scaled == pytest.approx(2.0) and bars["classifier"].scaled == pytest.approx(0.0)
    assert "human training texts" in scale.reference and f"{fast['n']:,}" in scale.reference

    del card["metrics"]["human_reference"]  # a bundle trained before the ranges were stored
    (directory / "card.json").write_text(json.dumps(card), encoding="utf-8")
    resign_bundle(clean_env, directory)
    older = add_verdict(store, bundle_version=bundle_version(settings, "default"), text="Older.",
                        detectors={"fast_detectgpt": high})
    scale = review.detector_scale(settings, load(store, older))
    assert scale.bars[0].scaled is None and scale.bars[0].value == pytest.approx(high)
    assert "trained before human ranges" in scale.reference
    stale = review.detector_scale(settings, load(store, verdict_id))  # the card changed since this verdict
    assert all(bar.scaled is None for bar in stale.bars) and "retrained since" in stale.reference


# -- PII types on offer ----------------------------------------------------------------------------------------
def test_entity_types_offered_are_those_that_occur_in_the_readers_scope(any_store: str) -> None:
    store = any_store
    with session_scope(store) as db:
        db.add(ScanJob(id="job-a", status="done", inputs={}, bundle_version="demo", tenant="acme"))
    add_verdict(store, pii_types=",NRP,ORGANIZATION,", pii_count=2, job_id="job-a")
    add_verdict(store, pii_types=",DATE_OF_BIRTH,ADDRESS,PERSON,", pii_count=3, text="Other.")
    with session_scope(store) as db:
        assert review.entity_types_present(db) == ["ADDRESS", "DATE_OF_BIRTH", "NRP", "ORGANIZATION", "PERSON"]
        assert review.entity_types_present(db, tenant="acme") == ["NRP", "ORGANIZATION"]
        assert review.entity_types_present(db, tenant="nobody") == []


# -- audit filters ---------------------------------------------------------------------------------------------
def test_audit_filters_by_action_set_and_a_literal_reviewer_prefix(any_store: str) -> None:
    store = any_store
    with session_scope(store) as db:
        for actor, action in (("alice", "review.decide"), ("alice", "generate"), ("albert", "review.decide"),
                              ("al_x", "review.decide"), ("bob", "review.decide"), ("api:key1", "verify")):
            audit(db, actor=actor, action=action, subject_type="verdict", subject_id="1")
    with session_scope(store) as db:
        actions = review.audit_actions(db)
        assert review.review_actions(actions) == ["review.decide"]
        rows = review.audit_rows(db, actions=["review.decide"], actor_prefix="al")
        assert sorted(r["actor"] for r in rows) == ["al_x", "albert", "alice"]
        assert [r["actor"] for r in review.audit_rows(db, actor_prefix="al_")] == ["al_x"]  # "_" is literal
        assert [r["actor"] for r in review.audit_rows(db, actor_prefix="AL%")] == []  # "%" is literal
        assert {r["action"] for r in review.audit_rows(db, actions=["generate", "verify"])} == {"generate", "verify"}
        assert review.audit_rows(db, actions=[]) == []
        assert len(review.audit_rows(db, action="review.decide", actor="bob")) == 1  # the old filters still work


# -- session tokens --------------------------------------------------------------------------------------------
def test_a_session_token_resumes_the_account_until_it_expires_or_the_session_ends(store: str,
                                                                                 tmp_path: Path) -> None:
    home = tmp_path / "home"
    add_reviewer(store, "alice", "a long enough passphrase")
    account = authenticate(store, "alice", "a long enough passphrase").account
    token = issue_token(home, account, idle_minutes=30)
    assert "passphrase" not in token and (home / "keys" / "dashboard-session.key").stat().st_mode & 0o077 == 0
    resumed = resume(store, home, token, max_hours=12)
    assert resumed.account == account and resumed.reason is None
    with session_scope(store) as db:
        assert db.scalars(select(AuditLog).where(AuditLog.action == "reviewer.session_resumed")).one().actor == "alice"
    later = utcnow() + timedelta(minutes=31)
    assert resume(store, home, token, max_hours=12, now=later).reason == "expired (idle)"
    long_idle = issue_token(home, account, idle_minutes=24 * 60, now=account.signed_in_at)
    too_old = account.signed_in_at + timedelta(hours=13)  # inside its idle window, past the 12 h maximum
    assert resume(store, home, long_idle, max_hours=12, now=too_old).reason == "expired (maximum session length)"
    payload, signature = token.split(".")
    forged = issue_token(tmp_path / "another-home", account, idle_minutes=30)
    assert resume(store, home, forged, max_hours=12).reason == "bad signature"
    assert resume(store, home, payload + "." + signature[::-1], max_hours=12).reason == "bad signature"
    assert resume(store, home, "not a token", max_hours=12).account is None
    record_session_end(store, "alice", "signout")
    assert resume(store, home, token, max_hours=12).reason == "session ended"


def test_a_token_dies_with_a_password_change(store: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    add_reviewer(store, "bob", "a long enough passphrase")
    account = authenticate(store, "bob", "a long enough passphrase").account
    token = issue_token(home, account, idle_minutes=30)
    set_password(store, "bob", "another long passphrase")
    assert resume(store, home, token, max_hours=12).reason == "account changed"
