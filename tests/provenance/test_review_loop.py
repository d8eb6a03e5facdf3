"""Reviewers teach the detector (issue 21): reviews export, retrain refusals, promotion and rollback, the
uncertainty queue ordering, and rescoring a job with a new bundle while keeping the old verdicts.

Real SQLite stores, the real CLI (``run_cli``) and the micro-model fixtures; no timing assertions.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from provenance import review
from provenance.errors import ProvenanceError
from provenance.settings import Settings, get_settings
from provenance.store import AuditLog, Document, ReviewDecision, ScanJob, VerdictRow, ensure_schema, session_scope
from testkit.review_seed import seed_demo_verdicts
from testkit.verdicts import verdict_row
from tests.cli_support import assert_clean_failure, json_lines, run_cli
from tests.conftest import install_bundle, resign_bundle, write_signed_state


def _settings() -> Settings:
    get_settings.cache_clear()
    return get_settings()


def _add_documents(url: str, texts: list[str], *, keep_text: bool = True, version: str = "default:test",
                   job_id: str = "job-a") -> list[int]:
    """Documents with one verdict each (in the review queue); returns the verdict ids."""
    ids = []
    with session_scope(url) as session:
        if session.get(ScanJob, job_id) is None:
            session.add(ScanJob(id=job_id, status="done", inputs={}, bundle_version=version, submission_done=True))
        for i, text in enumerate(texts):
            digest = hashlib.sha256(f"{job_id}|{version}|{i}|{text}".encode()).hexdigest()
            document = Document(content_hash=digest, num_chars=len(text),
                                redacted_text=f"<PERSON> {text[:40]}", raw_text=text if keep_text else None)
            session.add(document)
            session.flush()
            verdict = verdict_row(document_id=document.id, bundle_version=version, job_id=job_id, p_machine=0.5,
                              verdict="uncertain", needs_review=True, review_priority=1.0)
            session.add(verdict)
            session.flush()
            ids.append(verdict.id)
    return ids


def _decide(url: str, decisions: list[tuple[int, str, str]]) -> None:
    with session_scope(url) as session:
        for verdict_id, reviewer, decision in decisions:
            review.decide(session, verdict_id, reviewer, decision)


# ------------------------------------------------------------------------------------------- export
def test_reviews_export_labels_notes_and_disagreements(capsys, clean_env: Path) -> None:
    settings = _settings()
    settings.ensure_home()
    url = settings.resolved_database_url
    ensure_schema(url)
    texts = [f"Text number {i} about the river and the harbour at dawn." for i in range(6)]
    kept = _add_documents(url, texts[:4])
    redacted = _add_documents(url, texts[4:], keep_text=False, job_id="job-b")
    _decide(url, [(kept[0], "alice", "machine"), (kept[1], "alice", "human"), (kept[2], "alice", "misuse"),
                  (kept[3], "bob", "escalate"), (redacted[0], "bob", "human")])
    # a second verdict (another bundle version) of document kept[0], decided the other way by another reviewer
    with session_scope(url) as session:
        document_id = session.get(VerdictRow, kept[0]).document_id
        second = verdict_row(document_id=document_id, bundle_version="v2:test", job_id="job-a", p_machine=0.4,
                         verdict="uncertain", needs_review=True, review_priority=1.0)
        session.add(second)
        session.flush()
        second_id = second.id
    _decide(url, [(second_id, "carol", "human")])

    code, out, err = run_cli(capsys, "reviews", "export", "--format", "jsonl")
    assert code == 0, err
    records = json_lines(out)
    assert [r["label"] for r in records] == ["human", "human"]  # misuse/escalate are no labels; kept[0] disputed
    for record in records:
        assert {"text", "label", "domain", "source", "decision_id", "reviewer", "bundle_version"} <= record.keys()
        assert record["source"] == "review" and record["bundle_version"] == "default:test"
    by_text = {r["text_kept"]: r for r in records}
    assert by_text[True]["text"] == texts[1] and "note" not in by_text[True]
    assert by_text[False]["text"].startswith("<PERSON>") and "raw text was not kept" in by_text[False]["note"]
    assert "1 document(s) where reviewers disagree" in err and "alice: machine" in err and "carol: human" in err

    code, out, err = run_cli(capsys, "reviews", "export", "--job", "job-b")
    assert code == 0 and [r["text_kept"] for r in json_lines(out)] == [False]
    code, _, err = run_cli(capsys, "reviews", "export", "--since", "yesterday")
    assert_clean_failure(code, err)
    code, _, err = run_cli(capsys, "reviews", "export", "--job", "nope")
    assert_clean_failure(code, err)

    code, out, err = run_cli(capsys, "verdicts", "export", "--format", "jsonl")
    assert code == 0, err
    decisions = {r["verdict_id"]: r["decision"] for r in json_lines(out)}
    assert decisions[kept[1]] == "human" and decisions[kept[0]] == "human"  # latest decision of the document
    assert decisions[kept[3]] == "escalate"


# ------------------------------------------------------------------------------------------ retrain
@pytest.fixture
def loop_env(clean_env: Path, micro_model_dir: Path, trained_bundle: Path, monkeypatch) -> Path:
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    install_bundle(trained_bundle, clean_env)
    settings = _settings()
    ensure_schema(settings.resolved_database_url)
    return clean_env


def _labelled(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _review_rows(rows: list[dict], *, keep_text: bool = True) -> None:
    url = _settings().resolved_database_url
    ids = _add_documents(url, [row["text"] for row in rows], keep_text=keep_text)
    _decide(url, [(vid, "alice", row["label"]) for vid, row in zip(ids, rows, strict=True)])


def test_retrain_refuses_bad_input_and_promotes_nothing(capsys, loop_env: Path, detect_data_file: Path) -> None:
    base = str(detect_data_file)
    code, _, err = run_cli(capsys, "detect", "retrain", "--from-reviews", "--base", base, "--out", "next")
    assert_clean_failure(code, err)
    assert "no reviewed items" in err

    rows = _labelled(detect_data_file)
    _review_rows([row for row in rows if row["label"] == "machine"][:6])
    code, _, err = run_cli(capsys, "detect", "retrain", "--from-reviews", "--base", base, "--out", "next")
    assert_clean_failure(code, err)
    assert "decided machine" in err and "both classes" in err

    _review_rows([row for row in rows if row["label"] == "human"][:3], keep_text=False)
    code, _, err = run_cli(capsys, "detect", "retrain", "--from-reviews", "--base", base, "--out", "next")
    assert_clean_failure(code, err)
    assert "redacted" in err and "PROVENANCE_STORE_RAW_TEXT" in err

    _review_rows([row for row in rows if row["label"] == "human"][3:9])
    code, _, err = run_cli(capsys, "detect", "retrain", "--from-reviews", "--base", base, "--out", "default",
                           "--skip-redacted")
    assert_clean_failure(code, err)
    assert "is the active bundle" in err

    card_path = loop_env / "detectors" / "default" / "card.json"
    card = json.loads(card_path.read_text())
    card["scorer"]["weights_sha256"] = "0" * 64
    card_path.write_text(json.dumps(card))
    code, _, err = run_cli(capsys, "detect", "retrain", "--from-reviews", "--base", base, "--out", "next",
                           "--skip-redacted")
    assert_clean_failure(code, err)
    assert "does not match its signature" in err  # a hand-edited card is refused before anything is loaded
    resign_bundle(loop_env, card_path.parent)  # a signed bundle that really was trained for another scorer
    code, _, err = run_cli(capsys, "detect", "retrain", "--from-reviews", "--base", base, "--out", "next",
                           "--skip-redacted")
    assert_clean_failure(code, err)
    assert "trained for scorer" in err
    assert not (loop_env / "detectors" / "next").exists()
    assert not (loop_env / "detectors" / "active.json").exists()


def test_retrain_records_the_comparison_and_promote_follows_it(capsys, loop_env: Path,
                                                               detect_data_file: Path) -> None:
    rows = _labelled(detect_data_file)
    _review_rows(rows[:24])
    code, out, err = run_cli(capsys, "detect", "retrain", "--from-reviews", "--base", str(detect_data_file),
                             "--out", "next", "--json")
    assert code == 0, err
    (card,) = json_lines(out)
    comparison = card["retrain"]["comparison"]
    held = comparison["reviewed_held_back"]
    assert held["n"] >= 2 and "auroc" in held["active"] and "auroc" in held["candidate"]
    lodo = comparison["base_leave_one_domain_out"]
    assert set(lodo["active"]) == set(lodo["candidate"]) == {"stories", "letters"}
    assert card["data"]["reviewed"] == 24 and card["data"]["reviewed_held_back"] == held["n"]
    assert comparison["promotable"] == (not comparison["problems"])

    code, out, err = run_cli(capsys, "detect", "promote", "next", "--json")
    state = loop_env / "detectors" / "active.json"
    if comparison["promotable"]:
        assert code == 0, err
        assert json.loads(state.read_text())["active"] == "next"
    else:
        assert_clean_failure(code, err)
        assert "worse than the active bundle" in err and "AUROC" in err and not state.exists()


def _candidate(home: Path, name: str, reviewed: tuple[float, float], left_out: tuple[float, float, float]) -> None:
    """A copy of the active bundle whose card records a comparison with the given numbers: held-back reviewed
    AUROC (active, candidate) and one base domain's left-out AUROC (active, its CI low, candidate)."""
    from detect.review_data import promotion_checks
    from provenance.bundles import bundle_version

    target = home / "detectors" / name
    shutil.copytree(home / "detectors" / "default", target)
    card = json.loads((target / "card.json").read_text())
    comparison = {
        "active_version": bundle_version(_settings()),
        "reviewed_held_back": {"n": 10, "active": {"auroc": reviewed[0]}, "candidate": {"auroc": reviewed[1]}},
        "base_leave_one_domain_out": {
            "active": {"stories": {"auroc": left_out[0], "auroc_ci95": [left_out[1], 1.0]}},
            "candidate": {"stories": {"auroc": left_out[2]}}},
    }
    comparison["problems"] = promotion_checks(comparison)
    comparison["promotable"] = not comparison["problems"]
    card["name"] = name
    card["retrain"] = {"comparison": comparison}
    (target / "card.json").write_text(json.dumps(card))
    resign_bundle(home, target)


def test_promote_refuses_worse_accepts_as_good_and_rolls_back(capsys, loop_env: Path) -> None:
    from provenance.bundles import bundle_dir

    _candidate(loop_env, "worse-reviewed", (0.80, 0.78), (0.9, 0.85, 0.9))
    _candidate(loop_env, "worse-base", (0.80, 0.95), (0.9, 0.85, 0.84))
    _candidate(loop_env, "better", (0.80, 0.80), (0.9, 0.85, 0.86))  # as good; base within the interval
    for name, expected in (("worse-reviewed", "0.7800 < active 0.8000"), ("worse-base", "0.8400 < 0.8500")):
        code, _, err = run_cli(capsys, "detect", "promote", name)
        assert_clean_failure(code, err)
        assert expected in err and "Nothing promoted" in err
        assert bundle_dir(_settings()).name == "default"

    code, out, err = run_cli(capsys, "detect", "promote", "better", "--json")
    assert code == 0, err
    (entry,) = json_lines(out)
    assert entry["previous"] == "default" and entry["before"]["reviewed_auroc"] == 0.80
    assert bundle_dir(_settings()).name == "better"
    assert review.last_promotion(_settings())["name"] == "better"

    code, _, err = run_cli(capsys, "detect", "promote", "worse-base")  # compared with default, not with better
    assert_clean_failure(code, err)
    assert "active bundle is now" in err

    code, out, err = run_cli(capsys, "detect", "promote", "PREVIOUS", "--json")
    assert code == 0, err
    assert json_lines(out)[0]["kind"] == "rollback" and bundle_dir(_settings()).name == "default"
    with session_scope(_settings().resolved_database_url) as session:
        actions = session.execute(select(AuditLog.action, AuditLog.subject_id).order_by(AuditLog.id)).all()
        assert [tuple(row) for row in actions] == [("detect.promote", "better"), ("detect.rollback", "default")]

    code, _, err = run_cli(capsys, "detect", "promote", "missing")
    assert_clean_failure(code, err)


def test_promotion_never_accepts_a_base_domain_below_its_interval() -> None:
    from detect.review_data import promotion_checks

    def comparison(candidate: float) -> dict:
        return {"reviewed_held_back": {"active": {"auroc": 0.7}, "candidate": {"auroc": 0.9}},
                "base_leave_one_domain_out": {
                    "active": {"a": {"auroc": 0.80, "auroc_ci95": [0.75, 0.85]},
                               "b": {"auroc": 0.90, "auroc_ci95": [0.86, 0.93]}},
                    "candidate": {"a": {"auroc": 0.95}, "b": {"auroc": candidate}}}}

    assert promotion_checks(comparison(0.86)) == []
    assert promotion_checks(comparison(0.8599)) and "base domain b" in promotion_checks(comparison(0.8599))[0]


# ------------------------------------------------------------------------------------ queue ordering
def test_uncertainty_ordering_asks_about_the_closest_to_the_boundary_first(tmp_path: Path) -> None:
    from provenance.store import upgrade

    url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    upgrade(url)
    with session_scope(url) as db:
        seed_demo_verdicts(db, 300, seed=5)
    filters = review.QueueFilters(ordering="uncertainty")
    with session_scope(url) as db:
        rows, cursor = [], None
        while True:
            page = review.queue_page(db, filters, limit=23, after=cursor)
            rows.extend(page.rows)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        expected = db.scalar(select(func.count()).select_from(VerdictRow).where(
            VerdictRow.needs_review.is_(True), VerdictRow.review_status.is_(None), VerdictRow.p_machine.is_not(None)))
        assert len(rows) == expected == len({r.id for r in rows}) == review.queue_count(db, filters)
        doubt = [abs(r.p_machine - 0.5) for r in rows]
        assert doubt == sorted(doubt)

        class Always:
            def __init__(self, value: float) -> None:
                self.value = value

            def random(self) -> float:
                return self.value

        first = review.claim_next(db, "alice", 60, filters, rng=Always(0.99))
        assert first is not None and first.verdict_id == rows[0].id
        # Five reviewers, each drawing at random: never an item another reviewer holds, so five distinct items
        # (one reviewer drawing twice may be handed back the item it already holds, which is a renewal).
        drawn = {review.claim_next(db, f"bob{i}", 60, filters, rng=Always(0.0)).verdict_id for i in range(5)}
        assert rows[0].id not in drawn and len(drawn) == 5
    with pytest.raises(review.ReviewError):
        review.QueueFilters(ordering="sideways").validated()


def test_uncertainty_order_mixes_in_a_random_share() -> None:
    from detect.review_data import uncertainty_order

    p = np.linspace(0.0, 1.0, 101)
    order = uncertainty_order(p, random_share=0.2, seed=1)
    assert sorted(order.tolist()) == list(range(101))
    assert order[0] == 50 and {order[1], order[2]} == {49, 51}
    doubt = np.abs(p[order] - 0.5)
    chosen = [k for k in range(40) if k % 5 != 4]
    assert all(doubt[a] <= doubt[b] for a, b in zip(chosen, chosen[1:], strict=False))


# --------------------------------------------------------------------------------------------- rescore
def test_rescore_with_a_new_bundle_keeps_the_old_verdicts(capsys, loop_env: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    from provenance.pipeline.processing import process_chunk
    from provenance.pipeline.rescore import rescore
    from provenance.pipeline.submission import submit_paths
    from provenance.store import Chunk
    from testkit.texts import synthetic_paragraphs

    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps({"id": i, "text": t}) + "\n"
                            for i, t in enumerate(synthetic_paragraphs(6, seed=9))))
    monkeypatch.setenv("PROVENANCE_SCAN_CHUNK_SIZE", "4")
    settings = _settings()
    monkeypatch.setattr("provenance.pipeline.submission.send_chunk", lambda settings, chunk_id: None)
    job_id = submit_paths(settings, [dump])

    def run_chunks() -> None:
        with session_scope(settings.resolved_database_url) as session:
            queued = list(session.scalars(select(Chunk.id).where(Chunk.job_id == job_id, Chunk.status == "queued")))
        for chunk_id in queued:
            process_chunk(settings, chunk_id)

    run_chunks()
    with session_scope(settings.resolved_database_url) as session:
        old_version = session.get(ScanJob, job_id).bundle_version
    code, _, err = run_cli(capsys, "scan", "--resume", job_id, "--rescore")
    assert_clean_failure(code, err)
    assert "already judged by the active bundle" in err

    shutil.copytree(loop_env / "detectors" / "default", loop_env / "detectors" / "v2")
    card = json.loads((loop_env / "detectors" / "v2" / "card.json").read_text())
    card["name"] = "v2"
    (loop_env / "detectors" / "v2" / "card.json").write_text(json.dumps(card))
    resign_bundle(loop_env, loop_env / "detectors" / "v2")
    write_signed_state(loop_env, {"active": "v2", "history": []})
    settings = _settings()
    code, out, err = run_cli(capsys, "scan", "--resume", job_id, "--rescore", "--json")
    assert code == 0, err
    (pending,) = json_lines(out)
    assert pending["status"] == "running" and pending["bundle_version"].startswith("v2:")
    assert pending["chunks_total"] == 2 and pending["already_scored"] == 0
    run_chunks()
    with pytest.raises(ProvenanceError, match="already judged"):
        rescore(settings, job_id)
    with session_scope(settings.resolved_database_url) as session:
        job = session.get(ScanJob, job_id)
        assert job.status == "done" and job.bundle_version.startswith("v2:")
        assert job.inputs["previous_bundle_versions"] == [old_version]
        counts = dict(session.execute(select(VerdictRow.bundle_version, func.count())
                                      .group_by(VerdictRow.bundle_version)).all())
        assert counts == {old_version: 6, job.bundle_version: 6}
        assert session.scalar(select(func.count()).select_from(ReviewDecision)) == 0
    code, out, err = run_cli(capsys, "verdicts", "export", "--job", job_id)
    assert code == 0, err
    assert {r["bundle_version"] for r in json_lines(out)} == {pending["bundle_version"]}
    code, _, err = run_cli(capsys, "scan", "--rescore")
    assert_clean_failure(code, err)


# ------------------------------------------------------------------------------ audited promotion (one step)
def test_a_promotion_whose_audit_row_fails_changes_nothing(capsys, loop_env: Path, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    from provenance.bundles import bundle_dir

    _candidate(loop_env, "better", (0.80, 0.80), (0.9, 0.85, 0.86))

    def broken_audit(*args, **kwargs):
        raise OperationalError("INSERT INTO audit_log", {}, Exception("database is locked"))

    with monkeypatch.context() as patch:
        patch.setattr("provenance.store.audit.audit", broken_audit)
        code, _, err = run_cli(capsys, "detect", "promote", "better")
    assert_clean_failure(code, err)
    assert "audit row" in err and "nothing promoted" in err
    assert not (loop_env / "detectors" / "active.json").exists()
    assert bundle_dir(_settings()).name == "default"

    code, _, err = run_cli(capsys, "detect", "promote", "better")
    assert code == 0, err

    def broken_write(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr("provenance.promotion._write_state", broken_write)
        code, _, err = run_cli(capsys, "detect", "promote", "PREVIOUS")
    assert code != 0 and "Traceback" not in err
    assert json.loads((loop_env / "detectors" / "active.json").read_text())["active"] == "better"
    with session_scope(_settings().resolved_database_url) as session:
        actions = session.execute(select(AuditLog.action).order_by(AuditLog.id)).scalars().all()
    assert actions == ["detect.promote"]  # the failed rollback left no audit row


# ---------------------------------------------------------------------------- the loop on the demo's data
def _demo(capsys, detect_data_file: Path) -> tuple[str, str]:
    code, out, err = run_cli(capsys, "demo", "--max-new-tokens", "24", "--detect-data", str(detect_data_file),
                             "--detect-max-texts", "120")
    assert code == 0, err
    return " ".join(out.split()), err  # Rich wraps long lines at spaces


def test_the_review_loop_runs_on_a_demo_made_home(capsys, clean_env: Path, micro_model_dir: Path,
                                                  detect_data_file: Path, monkeypatch) -> None:
    """`provenance demo` seeds decisions on its held-out labelled examples (their true labels, their raw text
    kept) and prints the loop; reviews export -> detect retrain --from-reviews -> detect promote then runs on
    that home exactly as printed, ending promoted or refused with the numbers, nothing half-done either way; a
    second demo run follows the active bundle and decides nothing twice."""
    from provenance.bundles import bundle_dir

    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    flat, _ = _demo(capsys, detect_data_file)
    assert "review decisions: 12 seeded as reviewer 'demo' (6 machine, 6 human" in flat
    retrain_line = (f"provenance detect retrain --from-reviews --base {detect_data_file} --max-texts 120 --seed 7 "
                    "--out reviewed")
    assert retrain_line in flat and "provenance detect promote reviewed" in flat
    assert "provenance reviews export --format jsonl --output reviewed.jsonl" in flat

    code, _, err = run_cli(capsys, "reviews", "export", "--format", "jsonl", "--output", "reviewed.jsonl")
    assert code == 0, err
    records = _labelled(clean_env.parent / "reviewed.jsonl")
    assert len(records) == 12 and all(r["text_kept"] and r["reviewer"] == "demo" for r in records)
    truth = {}
    for row in _labelled(detect_data_file):
        truth[" ".join(row["text"].split())] = row["label"]
    assert all(truth[" ".join(r["text"].split())] == r["label"] for r in records)  # the examples' true labels
    with session_scope(_settings().resolved_database_url) as session:
        kept = session.scalar(select(func.count()).select_from(Document).where(Document.raw_text.is_not(None)))
    assert kept == 12  # raw text only for the seeded public examples (not the generations, not the PII samples)

    code, out, err = run_cli(capsys, *retrain_line.split()[1:], "--json")
    assert code == 0, err
    (card,) = json_lines(out)
    comparison = card["retrain"]["comparison"]
    assert card["data"]["reviewed"] == 12 and comparison["reviewed_held_back"]["n"] >= 2
    assert card["data"]["texts_used"] <= 120 + 12

    code, out, err = run_cli(capsys, "detect", "promote", "reviewed", "--json")
    state = clean_env / "detectors" / "active.json"
    with session_scope(_settings().resolved_database_url) as session:
        promotions = session.scalars(select(AuditLog.subject_id).where(AuditLog.action == "detect.promote")).all()
    if comparison["promotable"]:
        assert code == 0, err
        assert json.loads(state.read_text())["active"] == "reviewed" and promotions == ["reviewed"]
        active = "reviewed"
    else:
        assert_clean_failure(code, err)
        assert "worse than the active bundle" in err and "AUROC" in err
        assert not state.exists() and promotions == [] and bundle_dir(_settings()).name == "default"
        # promotion was refused: make another bundle active by hand, so the demo's bundle check is still tested
        shutil.copytree(clean_env / "detectors" / "default", clean_env / "detectors" / "v2")
        card_path = clean_env / "detectors" / "v2" / "card.json"
        card_path.write_text(json.dumps({**json.loads(card_path.read_text()), "name": "v2"}))
        resign_bundle(clean_env, card_path.parent)
        write_signed_state(clean_env, {"active": "v2", "history": []})
        active = "v2"

    flat, _ = _demo(capsys, detect_data_file)  # the demo checks, and the scan uses, the active bundle
    where = flat.find("detector bundle '")
    assert f"detector bundle '{active}' reused" in flat, flat[where:where + 400]
    assert f"detectors/{active}" in flat.replace(" ", "")  # Rich folds a long path
    assert "trained:" not in flat
    out_name = "reviewed-2"  # the next free name: never the active bundle, never an earlier candidate
    assert f"--seed 7 --out {out_name}" in flat and f"provenance detect promote {out_name}" in flat
    with session_scope(_settings().resolved_database_url) as session:
        per_document = session.execute(select(VerdictRow.document_id, func.count(ReviewDecision.id))
                                       .join(ReviewDecision, ReviewDecision.verdict_id == VerdictRow.id)
                                       .group_by(VerdictRow.document_id)).all()
        job = session.scalars(select(ScanJob).order_by(ScanJob.created_at.desc())).first()
    assert all(count == 1 for _, count in per_document)  # a second run decides nothing twice
    assert job.bundle_version.startswith(f"{active}:")
