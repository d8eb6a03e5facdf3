"""Server-side scan paths without oracles or races (issue #27 e): one answer for every refused path, files
read through descriptors opened beneath the root with O_NOFOLLOW and re-checked when reading starts, hard
links (to the data directory or anywhere) refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from provenance.pipeline.readers import ReaderOptions, RecordReader
from provenance.scan_roots import ScanPathRefused, allowed_scan_files, open_scan_files


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(allowed root, a secret folder outside it, the data directory inside the root)."""
    root, secret, home = tmp_path / "dumps", tmp_path / "secret", tmp_path / "dumps" / "home"
    for folder in (root / "inner", secret, home / "keys"):
        folder.mkdir(parents=True)
    (root / "inner" / "a.jsonl").write_text('{"id": "a", "text": "allowed text"}\n')
    (secret / "passwords.jsonl").write_text('{"id": "s", "text": "SECRET-CONTENT"}\n')
    (home / "keys" / "signing_ed25519.pem").write_text("private\n")
    (home / "provenance.sqlite").write_text("database\n")
    return root, secret, home


def _refusal(path: str, root: Path, home: Path) -> tuple[str, str | None]:
    with pytest.raises(ScanPathRefused) as refused:
        open_scan_files(path, [root], home)
    return str(refused.value).replace(repr(path), "PATH"), refused.value.hint


def _texts(files) -> list[str | None]:
    reader = RecordReader(files.paths, ReaderOptions(format="auto", text_field="text", id_field="id",
                                                     max_chars=10_000))
    return [record.text or record.reason for record in reader]


def test_every_refused_path_gets_the_same_answer(layout: tuple[Path, Path, Path]) -> None:
    root, secret, home = layout
    os.link(home / "provenance.sqlite", root / "inner" / "db-link.jsonl")  # a second name for the database
    os.link(secret / "passwords.jsonl", root / "hard.jsonl")  # a second name for a file outside
    (root / "soft.jsonl").symlink_to(root / "inner" / "a.jsonl")  # even a symlink that stays inside
    os.mkfifo(root / "pipe")
    refused = [
        "/etc/passwd", "/etc/does-not-exist", str(secret / "passwords.jsonl"), str(root / "missing.jsonl"),
        str(root / "inner" / "db-link.jsonl"), str(root / "hard.jsonl"), str(root / "soft.jsonl"),
        str(root / "pipe"), str(home), str(home / "keys" / "signing_ed25519.pem"), str(root / ".." / "secret"),
        str(root / "inner" / ".." / "inner" / "a.jsonl"), "relative/path.jsonl", str(root),
    ]
    answers = {_refusal(path, root, home) for path in refused}
    assert len(answers) == 1, answers
    message, hint = answers.pop()
    assert "PROVENANCE_SCAN_ROOTS" in (hint or "") and "outside" not in message and "exist" not in message


def test_a_file_swapped_for_a_symlink_after_the_check_is_not_read(layout: tuple[Path, Path, Path]) -> None:
    root, secret, home = layout
    target = root / "inner" / "a.jsonl"
    with open_scan_files(str(target), [root], home) as files:
        target.unlink()
        target.symlink_to(secret / "passwords.jsonl")
        texts = _texts(files)
    assert len(texts) == 1 and "refused at read time" in texts[0] and "SECRET" not in texts[0]


def test_a_folder_swapped_for_a_symlink_after_the_check_is_not_read(layout: tuple[Path, Path, Path]) -> None:
    root, secret, home = layout
    (secret / "a.jsonl").write_text('{"id": "s", "text": "SECRET-CONTENT"}\n')
    with open_scan_files(str(root / "inner"), [root], home) as files:
        (root / "inner").rename(root / "moved")
        (root / "inner").symlink_to(secret, target_is_directory=True)
        texts = _texts(files)
    assert len(texts) == 1 and "refused at read time" in texts[0]


def test_a_file_replaced_after_the_check_is_not_read(layout: tuple[Path, Path, Path]) -> None:
    root, _secret, home = layout
    target = root / "inner" / "a.jsonl"
    with open_scan_files(str(target), [root], home) as files:
        replacement = root / "inner" / "new.tmp"
        replacement.write_text('{"id": "b", "text": "swapped in later"}\n')
        os.replace(replacement, target)
        texts = _texts(files)
    assert len(texts) == 1 and "replaced" in texts[0]


def test_allowed_files_are_read_through_their_descriptors(layout: tuple[Path, Path, Path]) -> None:
    root, _secret, home = layout
    (root / "inner" / "deeper").mkdir()
    (root / "inner" / "deeper" / "b.jsonl").write_text('{"id": "b", "text": "second text"}\n')
    assert allowed_scan_files(str(root / "inner"), [root], home) == [
        root / "inner" / "a.jsonl", root / "inner" / "deeper" / "b.jsonl"]
    with open_scan_files(str(root / "inner"), [root], home) as files:
        assert [str(path) for path in files.paths] == [str(root / "inner" / "a.jsonl"),
                                                      str(root / "inner" / "deeper" / "b.jsonl")]
        assert _texts(files) == ["allowed text", "second text"]
        records = list(RecordReader(files.paths, ReaderOptions(format="auto", text_field="text", id_field="id",
                                                               max_chars=10_000)))
        assert records[0].source_id == "a"  # ids, names and locations are the requested paths, not /proc
        assert str(root / "inner" / "a.jsonl") in records[0].location or records[0].location.endswith("a.jsonl:1")


def test_api_answers_missing_and_forbidden_paths_alike(tmp_path: Path, micro_model_dir: Path,
                                                       layout: tuple[Path, Path, Path]) -> None:
    from fastapi.testclient import TestClient

    from provenance.api import create_app
    from provenance.apikeys import create_api_key
    from tests.provenance.api_support import api_settings_for

    root, _secret, _home = layout
    settings = api_settings_for(tmp_path / "api-home", micro_model_dir, scan_roots=[root])
    _id, key = create_api_key(settings.resolved_database_url, name="ops", scopes="admin")
    with TestClient(create_app(settings)) as client:
        bodies = set()
        for path in ("/etc/passwd", "/etc/does-not-exist", str(root / "nope.jsonl"), str(settings.home / "keys")):
            response = client.post("/v1/scan", headers={"Authorization": f"Bearer {key}"}, json={"path": path})
            assert response.status_code == 403
            bodies.add(response.json()["message"].replace(repr(path), "PATH"))
    assert len(bodies) == 1, bodies
