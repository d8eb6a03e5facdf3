"""Scan inputs beyond plain JSONL: compressed (gzip, zstd, bz2 by magic bytes), nested JSON, CSV, Parquet,
WARC/WET, mixed directories; bad files; resume positions; verdict export as JSONL, CSV and Parquet.

Every dump is built here from one list of rows; each format must give the same records (and, through the real
pipeline on SQLite with the real scorer, the same verdicts and quarantine counts) as its plain JSONL twin.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provenance.pipeline import processing, submission
from provenance.pipeline.export import iter_verdicts
from provenance.pipeline.jobs import job_summary, quarantine_records
from provenance.pipeline.readers import ReaderOptions, RecordReader
from provenance.settings import Settings
from provenance.store import ScanJob, session_scope
from testkit.texts import synthetic_paragraphs
from tests.provenance import scan_dumps
from tests.provenance.conftest import pipeline_env, pipeline_settings

NESTED = ReaderOptions(text_field="post.body")


def _rows(count: int = 14, seed: int = 11) -> list[scan_dumps.Row]:
    rows: list[scan_dumps.Row] = [(f"doc-{i}", text) for i, text in enumerate(synthetic_paragraphs(count, seed=seed))]
    rows[3] = ("doc-3", "   ")  # empty: quarantined
    rows[min(8, count - 1)] = (f"doc-{min(8, count - 1)}", None)  # no text: quarantined
    return rows


def _dumps(directory: Path, rows: list[scan_dumps.Row]) -> dict[str, tuple[Path, ReaderOptions]]:
    """Every format of the same rows, with the reader options each needs."""
    plain = ReaderOptions()
    return {
        "jsonl": (scan_dumps.write_jsonl(directory / "twin.jsonl", rows), plain),
        "jsonl.gz": (scan_dumps.write_jsonl(directory / "dump.jsonl.gz", rows, compression="gzip"), plain),
        "jsonl.zst": (scan_dumps.write_jsonl(directory / "dump.jsonl.zst", rows, compression="zstd"), plain),
        "jsonl.bz2": (scan_dumps.write_jsonl(directory / "dump.jsonl.bz2", rows, compression="bz2"), plain),
        "gzip named .jsonl": (scan_dumps.write_jsonl(directory / "lying.jsonl", rows, compression="gzip"), plain),
        "jsonl named .parquet": (scan_dumps.write_jsonl(directory / "lying.parquet", rows), plain),
        "nested json.zst": (scan_dumps.write_jsonl(directory / "nested.json.zst", rows, nested=True,
                                                   compression="zstd"), NESTED),
        "csv.gz": (scan_dumps.write_csv(directory / "dump.csv.gz", rows), plain),
        "parquet": (scan_dumps.write_parquet(directory / "dump.parquet", rows), NESTED),
        "warc.gz": (scan_dumps.write_warc(directory / "dump.warc.gz", rows), plain),
        "wet": (scan_dumps.write_warc(directory / "dump.wet", rows, gzip_records=False), plain),
    }


def _shape(path: Path, options: ReaderOptions) -> list[tuple[str | None, bool]]:
    return [(record.text, record.reason is not None) for record in RecordReader([path], options)]


def test_every_format_reads_as_its_plain_jsonl_twin(tmp_path: Path) -> None:
    rows = _rows()
    dumps = _dumps(tmp_path, rows)
    twin = _shape(*dumps["jsonl"])
    assert len(twin) == len(rows) and sum(q for _, q in twin) == 2
    for name, (path, options) in dumps.items():
        assert _shape(path, options) == twin, name
    ids = [r.source_id for r in RecordReader([dumps["parquet"][0]], NESTED)]
    assert ids == [source_id for source_id, _ in rows]
    warc = list(RecordReader([dumps["warc.gz"][0]], ReaderOptions()))
    assert warc[0].source_id.startswith("https://example.org/doc-0 <urn:uuid:")
    assert warc[8].reason == "non-text payload (image/png)"


def test_a_directory_may_mix_formats(tmp_path: Path) -> None:
    rows = _rows(6)
    mixed = tmp_path / "mixed"
    (mixed / "sub").mkdir(parents=True)
    scan_dumps.write_jsonl(mixed / "a.jsonl.gz", rows)
    scan_dumps.write_parquet(mixed / "sub" / "b.parquet", rows)
    scan_dumps.write_warc(mixed / "c.warc.gz", rows)
    (mixed / "d.txt").write_text("A whole file is one document.\n\nEven with two paragraphs.\n")
    (mixed / "notes.md").write_text("not a scan input")
    records = list(RecordReader([mixed], ReaderOptions()))
    # the Parquet file keeps its text in post.body, not under --text-field text: one error for that file
    by_file: dict[str, int] = {}
    for record in records:
        key = Path(record.location.split(":")[0]).name
        by_file[key] = by_file.get(key, 0) + 1
    assert by_file == {"a.jsonl.gz": 6, "b.parquet": 1, "c.warc.gz": 6, "d.txt": 1}
    assert [r.seq for r in records] == list(range(14))
    parquet_error = next(r for r in records if "b.parquet" in r.location)
    assert 'no column "text"' in parquet_error.reason and "post" in parquet_error.reason


def test_bad_files_become_one_reason_each_and_the_scan_goes_on(tmp_path: Path) -> None:
    import zstandard

    rows = _rows(30)
    good = scan_dumps.write_jsonl(tmp_path / "good.jsonl", rows[:4])
    body = b"".join(json.dumps({"id": i, "text": f"{i:x} " * 400}).encode() + b"\n" for i in range(400))
    frame = zstandard.ZstdCompressor().compress(body)
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(frame[: len(frame) * 2 // 3])
    no_column = scan_dumps.write_parquet(tmp_path / "nocol.parquet", rows[:4])
    array = tmp_path / "array.json"
    array.write_text(json.dumps([{"text": "a"}]))
    listed = tmp_path / "listed.jsonl"
    listed.write_text(json.dumps({"id": "l", "post": [{"body": "x"}]}) + "\n" + json.dumps({"post": {"body": "ok"}})
                      + "\n")
    fake = tmp_path / "fake.parquet"
    fake.write_bytes(b"\x00\x01 neither parquet nor text")

    records = list(RecordReader([cut, no_column, array, fake, good], ReaderOptions()))
    reasons = [r.reason for r in records if r.reason]
    assert any("zstd stream cut in the middle" in r for r in reasons)
    assert any('no column "text"' in r for r in reasons)
    assert any("a JSON array, not JSON Lines" in r for r in reasons)
    assert any("not a Parquet file" in r for r in reasons)
    assert [r.source_id for r in records if r.location.startswith(str(good))] == [i for i, _ in rows[:4]]
    read_before_cut = [r for r in records if r.location.startswith(f"{cut}:") and r.text]
    assert 0 < len(read_before_cut) < 400
    listed_records = list(RecordReader([listed], NESTED))
    assert "is a list" in listed_records[0].reason and listed_records[1].text == "ok"
    with pytest.raises(Exception, match="unknown format"):
        RecordReader([good], ReaderOptions(format="xml"))


@pytest.mark.parametrize("name", ["jsonl", "jsonl.gz", "csv.gz", "parquet", "warc.gz", "wet", "nested json.zst"])
def test_resume_from_any_cursor_continues_with_the_next_record(tmp_path: Path, name: str) -> None:
    path, options = _dumps(tmp_path, _rows())[name]
    reader = RecordReader([path, path], options)
    full = list(reader)
    for k in (0, 3, 7, len(full) // 2 + 2, len(full) - 1):
        resumed = list(reader.records(start=full[k].cursor, seq=k + 1))
        assert [(r.seq, r.source_id, r.text, r.reason) for r in resumed] == \
            [(r.seq, r.source_id, r.text, r.reason) for r in full[k + 1:]], (name, k)


def test_resume_does_not_parse_what_was_committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    rows = _rows(40)
    gz = scan_dumps.write_jsonl(tmp_path / "big.jsonl.gz", rows, compression="gzip")
    full = list(RecordReader([gz], ReaderOptions()))
    parsed = []
    real_loads = json.loads
    monkeypatch.setattr(json, "loads", lambda line, *a, **k: parsed.append(line) or real_loads(line, *a, **k))
    rest = list(RecordReader([gz], ReaderOptions()).records(start=full[29].cursor, seq=30))
    assert len(rest) == 10 and len(parsed) == 10
    monkeypatch.setattr(json, "loads", real_loads)

    table = scan_dumps.write_parquet(tmp_path / "big.parquet", rows, row_group_size=8)
    full = list(RecordReader([table], NESTED))
    groups: list[list[int]] = []
    real_iter = pq.ParquetFile.iter_batches
    monkeypatch.setattr(pq.ParquetFile, "iter_batches",
                        lambda self, *a, row_groups=None, **k: groups.append(row_groups) or real_iter(
                            self, *a, row_groups=row_groups, **k))
    rest = list(RecordReader([table], NESTED).records(start=full[25].cursor, seq=26))
    assert [r.source_id for r in rest] == [source_id for source_id, _ in rows[26:]]
    assert groups == [[3], [4]]  # rows 24..31 are group 3: groups 0-2 are never read


# ---- through the real pipeline (SQLite, real scorer; the broker is the one seam, as in test_pipeline_accounting)

@pytest.fixture
def settings(pipeline_home: Path, micro_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return pipeline_settings(pipeline_home, micro_model_dir, f"sqlite:///{pipeline_home / 'db.sqlite'}", monkeypatch)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    chunk_ids: list[int] = []
    monkeypatch.setattr(submission, "send_chunk", lambda _settings, chunk_id: chunk_ids.append(chunk_id))
    return chunk_ids


def _verdict_set(settings: Settings, job_id: str) -> set[tuple[str, str, float | None]]:
    return {(r["content_hash"], r["verdict"], r["p_machine"]) for r in iter_verdicts(settings, job_id)}


def test_each_format_scans_to_the_verdicts_of_its_jsonl_twin(settings: Settings, sent: list[int],
                                                             tmp_path: Path) -> None:
    dumps = _dumps(tmp_path, _rows())
    twin_path, _ = dumps.pop("jsonl")
    twin = submission.submit_paths(settings, [twin_path])
    for chunk_id in sent:
        processing.process_chunk(settings, chunk_id)
    expected = job_summary(settings, twin)
    assert (expected["status"], expected["total"], expected["quarantined"], expected["scored"]) == ("done", 14, 2, 12)
    verdicts = _verdict_set(settings, twin)
    assert len(verdicts) == 12
    for name, (path, options) in dumps.items():
        sent.clear()
        job = submission.submit_paths(settings, [path], text_field=options.text_field)
        summary = job_summary(settings, job)
        assert sent == [], name  # the same texts: every verdict is reused, nothing is scored again
        assert (summary["status"], summary["total"], summary["quarantined"], summary["already_scored"]) == \
            ("done", 14, 2, 12), name
        assert _verdict_set(settings, job) == verdicts, name


def test_an_interrupted_compressed_scan_resumes_from_its_cursor(settings: Settings, sent: list[int], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(40, seed=4)
    dump = scan_dumps.write_jsonl(tmp_path / "dump.jsonl.zst", rows, compression="zstd")
    monkeypatch.setattr(submission, "RECORDS_PER_COMMIT", 8)
    real_commit = submission._commit_batch
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(submission, "_commit_batch", interrupted)
    jobs: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        submission.submit_paths(settings, [dump], on_job=jobs.append)
    monkeypatch.setattr(submission, "_commit_batch", real_commit)
    with session_scope(settings.resolved_database_url) as session:
        cursor = session.get(ScanJob, jobs[0]).inputs["cursor"]
    assert cursor["seq"] == 16 and cursor["at"]["line"] == 16 and cursor["at"]["offset"] > 0
    assert submission.resume(settings, jobs[0]) == 16
    for chunk_id in dict.fromkeys(sent):
        processing.process_chunk(settings, chunk_id)
    summary = job_summary(settings, jobs[0])
    assert (summary["status"], summary["total"], summary["quarantined"], summary["scored"]) == ("done", 40, 2, 38)
    assert [r["source_id"] for r in iter_verdicts(settings, jobs[0])] == \
        [source_id for source_id, text in rows if text and text.strip()]
    assert {q["seq"] for q in quarantine_records(settings, jobs[0])} == {3, 8}


def test_cli_scans_bad_and_good_files_and_exports_every_format(pipeline_home: Path, micro_model_dir: Path,
                                                               tmp_path: Path, capsys: pytest.CaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               sent: list[int]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from provenance.cli.config_cmd import load_settings
    from tests.cli_support import assert_clean_failure, run_cli

    for key, value in pipeline_env(pipeline_home, micro_model_dir).items():
        if key.startswith("PROVENANCE_"):
            monkeypatch.setenv(key, value)
    rows = _rows(6, seed=3)
    good = scan_dumps.write_parquet(tmp_path / "good.parquet", rows)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(scan_dumps.write_jsonl(tmp_path / "whole.jsonl.gz", rows, nested=True,
                                          compression="gzip").read_bytes()[:-30])
    warc = scan_dumps.write_warc(tmp_path / "crawl.warc.gz", rows)

    code, out, err = run_cli(capsys, "scan", str(cut), str(good), str(warc), "--text-field", "post.body", "--json")
    assert code == 0 and "Traceback" not in err and "internal error" not in err, err
    job = json.loads(out.strip().splitlines()[-1])["job_id"]
    settings = load_settings()
    for chunk_id in sent:
        processing.process_chunk(settings, chunk_id)
    code, out, err = run_cli(capsys, "jobs", "show", job, "--quarantine", "--json")
    summary = json.loads(out)
    # the same 4 texts in each file (WARC text comes from the payload); the rest are repeats or quarantined
    assert (summary["status"], summary["scored"]) == ("done", 4)
    reasons = [q["reason"] for q in summary["quarantine"]]
    assert any("gzip stream cut in the middle" in r for r in reasons)
    assert any("non-text payload" in r for r in reasons)

    for fmt in ("jsonl", "csv", "parquet"):
        code, out, err = run_cli(capsys, "verdicts", "export", "--job", job, "--format", fmt, "--output",
                                 str(tmp_path / f"verdicts.{fmt}"))
        assert code == 0 and out == "", err
    assert not list(tmp_path.glob(".*.partial"))
    lines = [json.loads(line) for line in (tmp_path / "verdicts.jsonl").read_text().splitlines()]
    table = pq.read_table(tmp_path / "verdicts.parquet")
    assert table.num_rows == len(lines) == 4
    assert str(table.schema.field("watermark").type).startswith("struct<z_score: double")
    detectors_type = table.schema.field("detectors").type
    assert pa.types.is_map(detectors_type) and detectors_type.item_type == pa.float64()
    assert str(table.schema.field("pii").type).startswith("list<element: struct<type: string")
    assert table.column("source_id").to_pylist() == [r["source_id"] for r in lines]
    assert table.column("p_machine").to_pylist() == [r["p_machine"] for r in lines]
    first = table.slice(0, 1).to_pylist()[0]
    assert dict(first["detectors"]) == lines[0]["detectors"] and first["watermark"] == lines[0]["watermark"]
    assert (tmp_path / "verdicts.csv").read_text().splitlines()[0].startswith("document_id,source_id,p_machine")
    assert len((tmp_path / "verdicts.csv").read_text().splitlines()) == 5
    assert_clean_failure(*run_cli(capsys, "verdicts", "export", "--format", "xml")[::2])
    assert_clean_failure(*run_cli(capsys, "scan", str(tmp_path / "missing.jsonl"))[::2])
