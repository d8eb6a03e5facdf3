"""Verdicts stored per signal read exactly as before: ``verdicts export`` (JSONL and Parquet, its schema
included), ``GET /v1/verdicts/{id}`` and ``GET /v1/jobs/{id}/verdicts`` return the same keys and values as
main's readers did before the storage changed (captured in ``tests/provenance/data/``, invented data only).

* Rows written the old way (the database really at the revision before ``signals_per_verdict``, rows inserted
  with the old columns) are migrated to head and read through every view, on SQLite and PostgreSQL; the
  downgrade gives the old columns back with the values they held.
* A scan of invented texts through today's pipeline reads like the same scan did through main's: same keys
  and value types everywhere, same values wherever they do not depend on the freshly trained micro model and
  key (PII findings, the toy signal's record, the documents, the ids).

The one intended difference is in ``versions``: the ledger lookup records its version too now, and a row from
before versions were recorded gets them from its ``models`` column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from provenance.signals import register, signal_set, unregister
from tests.conftest import install_bundle
from tests.provenance import verdict_views as views
from tests.provenance.scan_views import RUN_DEPENDENT, LetterSignal, run_scan, shape

LEDGER_VERSION = "ledger:exact+minhash128+containment"


def _revisions(url: str) -> tuple[str, str]:
    """(the revision before ``signals_per_verdict``, ``signals_per_verdict``), by file name: the chain may be
    renumbered when branches merge."""
    from alembic.script import ScriptDirectory

    from provenance.store.schema import alembic_config

    script = ScriptDirectory.from_config(alembic_config(url))
    for revision in script.walk_revisions():
        if revision.path.endswith("_signals_per_verdict.py"):
            return str(revision.down_revision), revision.revision
    raise AssertionError("migration signals_per_verdict not found")


def _versions_now(stored: dict[str, Any] | None, models: dict[str, Any]) -> dict[str, Any]:
    """What ``versions`` reads after the migration, from what it read before."""
    if stored:
        return {**stored, "provenance": LEDGER_VERSION}
    if "pii_operator" not in models:
        return {}
    return {"detection": models["bundle"], "pii": f"operator:{models['pii_operator']}",
            "toxicity": models.get("toxicity"), "watermark": ",".join(models.get("watermark_keys") or []) or None,
            "provenance": LEDGER_VERSION}


def _expected_versions(golden: dict[str, Any]) -> dict[str, Any]:
    """The golden views with ``versions`` as the migration fills it in (per verdict id)."""
    by_id = {100 + index: _versions_now(columns["versions"], columns["models"])
             for index, (_text, columns) in enumerate(views.LEGACY_ROWS, start=1)}

    def fix(record: dict[str, Any], verdict_id: int) -> dict[str, Any]:
        return {**record, "versions": by_id[verdict_id]}

    expected = dict(golden)
    for key in ("export_jsonl", "export_all_jsonl"):
        expected[key] = [fix(line, line["verdict_id"]) for line in golden[key]]
    expected["parquet_rows"] = [{**row, "versions": [[k, v] for k, v in by_id[row["verdict_id"]].items()]}
                                for row in golden["parquet_rows"]]
    expected["api_verdicts"] = {key: fix(record, int(key)) for key, record in golden["api_verdicts"].items()}
    expected["api_job_page"] = {**golden["api_job_page"], "verdicts": [
        fix(line, line["verdict_id"]) for line in golden["api_job_page"]["verdicts"]]}
    return expected


def test_rows_written_the_old_way_read_the_same_after_the_migration(db_url: str, tmp_path: Path,
                                                                    micro_model_dir: Path) -> None:
    from provenance.store import upgrade
    from provenance.store.schema import downgrade
    from tests.provenance.api_support import api_settings_for

    before, mine = _revisions(db_url)
    upgrade(db_url, before)
    ids = views.insert_legacy_rows(db_url)
    upgrade(db_url)
    (tmp_path / "home").mkdir()
    settings = api_settings_for(tmp_path / "home", micro_model_dir, database_url=db_url)
    golden = json.loads((views.DATA / "verdict_views_legacy_rows.json").read_text())
    problems = views.close(views.capture(settings, views.LEGACY_JOB, ids), _expected_versions(golden))
    assert problems == []

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            stored = dict(connection.execute(sa.text("SELECT id, signals FROM verdicts")).all())
            columns = {c["name"] for c in sa.inspect(connection).get_columns("verdicts")}
        assert {"detectors", "reasons", "watermark", "pii", "toxicity"}.isdisjoint(columns)
        first = json.loads(stored[101]) if isinstance(stored[101], str) else stored[101]
        assert first["vowels"] == {"vowel_share": 0.4125}  # a registered signal's record stays beside the others
        assert first["provenance"]["manifest_id"] == "man-own-0001"

        downgrade(db_url, before)  # the old columns come back holding what they held
        old = [columns for _text, columns in views.LEGACY_ROWS]
        with engine.connect() as connection:
            table = sa.Table("verdicts", sa.MetaData(), autoload_with=connection)
            rows = connection.execute(sa.select(table).order_by(table.c.id)).mappings().all()
    finally:
        engine.dispose()
    for row, columns in zip(rows, old, strict=True):
        for name in ("detectors", "reasons", "num_tokens", "pii", "toxicity", "watermark_p", "watermark_key_id"):
            assert row[name] == columns[name], name
        watermark = dict(columns["watermark"])
        assert row["watermark"] == {**watermark, "provenance": watermark.get("provenance")}
        assert (row["signals"] or {}) == (columns["signals"] or {})
    upgrade(db_url)  # and up again: the same views
    assert views.close(views.capture(settings, views.LEGACY_JOB, ids), _expected_versions(golden)) == []


DETERMINISTIC = {"pii", "pii_count", "pii_types", "signals", "document", "document_id", "source_id", "content_hash",
                 "verdict_id", "id", "tenant", "toxicity", "p_toxic", "decision", "review_status", "num_tokens"}


def _deterministic(view: Any) -> Any:
    """The values of ``DETERMINISTIC`` keys, wherever they are."""
    if isinstance(view, dict):
        return {k: (v if k in DETERMINISTIC else _deterministic(v)) for k, v in view.items()
                if k in DETERMINISTIC or isinstance(v, dict | list)}
    if isinstance(view, list):
        return [_deterministic(v) for v in view]
    return None


def _without_ledger_version(view: Any) -> Any:
    if isinstance(view, dict):
        return {k: _without_ledger_version(v) for k, v in view.items() if k != "provenance" or v != LEDGER_VERSION}
    if isinstance(view, list):
        return [_without_ledger_version(v) for v in view if v != ["provenance", LEDGER_VERSION]]
    return view


def test_a_scan_reads_as_it_did_before_verdicts_were_stored_per_signal(
        tmp_path: Path, micro_model_dir: Path, trained_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    install_bundle(trained_bundle, home)
    register("letters", LetterSignal)
    try:
        settings, job, ids = run_scan(home, micro_model_dir, f"sqlite:///{tmp_path / 'scan.sqlite'}", monkeypatch)
        actual = views.without(views.capture(settings, job, ids), RUN_DEPENDENT)
        versions = signal_set(settings).versions()
    finally:
        unregister("letters")
    golden = json.loads((views.DATA / "verdict_views_scan.json").read_text())
    assert versions["letters"] == "letters:1"
    first = actual["api_verdicts"][str(ids[0])]
    assert first["versions"]["provenance"] == LEDGER_VERSION  # the one addition: the ledger lookup's version
    actual = _without_ledger_version(actual)
    assert actual["parquet_schema"] == golden["parquet_schema"]
    assert shape(actual) == shape(golden)
    assert _deterministic(actual) == _deterministic(golden)
    for record in actual["export_jsonl"]:  # and every flat value is the stored record's, for this run's scores
        api = actual["api_verdicts"][str(record["verdict_id"])]
        assert (record["p_machine"], record["verdict"], record["detectors"]) == (
            api["p_machine"], api["verdict"], api["detectors"])
        assert record["watermark"] == {key: api["watermark"].get(key) for key in
                                       ("z_score", "p_value", "watermarked", "key_id")}


def test_each_signal_shows_exactly_the_flat_keys_it_declares() -> None:
    """``flat`` (what the docs and the views' ``signals`` object go by) and ``flat_fields`` agree, for a verdict
    with every record present and for one with none (a row a signal never judged)."""
    from provenance.signals import VIEWS, signal_class, signal_names

    full = {name: {} for name in signal_names()}
    for name in signal_names():
        cls = signal_class(name)
        for view in VIEWS:
            declared = list(cls.flat.get(view, ()))
            assert list(cls.flat_fields({}, view)) == declared, (name, view)
            assert list(cls.flat_fields(full, view)) == declared, (name, view)
