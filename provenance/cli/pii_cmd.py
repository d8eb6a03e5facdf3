"""`provenance pii analyze|redact|restore|eval`: find, redact and restore PII; evaluate against labelled data.

Input is read as bytes and decoded line by line, so one bad line (invalid JSON, invalid UTF-8, no "text")
becomes one ``{"id", "error"}`` record and the run goes on; JSON goes to stdout, progress and notes to stderr.
Secrets (HMAC secret, AES key) come from settings or are created 0600 under ``<home>/keys/`` on first use.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import typer

from provenance.batching import chunked
from provenance.cli.config_cmd import load_settings
from provenance.cli.inputs import open_input, read_text_records
from provenance.cli.output import CliError, emit_json, stderr, stdout
from provenance.settings import Settings
from provenance.signals.pii import (  # noqa: F401 (re-exported: the pii commands' configuration lives there)
    AES_KEY_FILE,
    HMAC_KEY_FILE,
    build_analyzer,
    build_redactor,
    encryption_key,
    hmac_secret,
    pii_config,
)

app = typer.Typer(help="Find, redact and restore personal data (Presidio + spaCy).", no_args_is_help=True)

BLOCK = 256  # records analysed together (spaCy batches them; memory stays bounded)


# -- input ------------------------------------------------------------------------------------------------
@dataclass
class Record:
    id: Any
    text: str | None = None
    error: str | None = None


def _clean(text: str) -> str:
    """Lone surrogates (from JSON escapes) become U+FFFD: same length, so offsets still index the input."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return text


def jsonl_records(handle: BinaryIO) -> Iterator[Record]:
    """One record per non-blank line (``inputs.read_text_records``: the shared reader), its text cleaned."""
    for record_id, text, error in read_text_records(handle):
        yield Record(record_id, error=error) if text is None else Record(record_id, _clean(text))


def _read_text(source: str) -> str:
    handle = open_input(source)
    try:
        data = handle.read()
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        stderr.print(f"[yellow]note:[/] input is not valid UTF-8 (first bad byte at {exc.start}); "
                     "undecodable bytes were replaced with U+FFFD", highlight=False)
        return data.decode("utf-8", "replace")


def _analyzed(analyzer: Any, records: Iterator[Record], block_size: int) -> Iterator[tuple[Record, list[Any]]]:
    """(record, entities) in input order. A block that fails is retried one document at a time, and a document
    that still fails becomes an error record: one bad text never ends the run."""
    done = 0
    for block in chunked(records, block_size):
        texts = [r.text for r in block if r.text is not None]
        try:
            results: Iterator[list[Any] | None] = iter(analyzer.analyze_batch(texts))
        except Exception:  # noqa: BLE001
            results = _one_by_one(analyzer, texts)
        for record in block:
            if record.text is None:
                yield record, []
                continue
            found = next(results)
            if found is None:
                record.error = f"analysis failed for record {record.id!r}"
                found = []
            yield record, found
        done += len(block)
        if done % (block_size * 8) < len(block):
            stderr.print(f"[dim]{done} records[/]", highlight=False)


def _one_by_one(analyzer: Any, texts: list[str]) -> Iterator[list[Any] | None]:
    for text in texts:
        try:
            yield analyzer.analyze(text)
        except Exception:  # noqa: BLE001 - one bad document must not end the run
            yield None


def _analyzer(settings: Settings) -> tuple[Any, int]:
    config = pii_config(settings)
    block = max(BLOCK, config.multiprocess_min_docs) if config.n_process > 1 else BLOCK
    return build_analyzer(config), block


# -- commands ---------------------------------------------------------------------------------------------
@app.command("analyze")
def analyze(
    source: str = typer.Argument("-", help='JSONL file (one {"id"?, "text"} per line) or - for stdin.'),
    as_json: bool = typer.Option(False, "--json", help="JSON lines (the default output is human-readable)."),
) -> None:
    """Find PII: one {"id", "entities": [{"type", "start", "end", "score"}]} per input line, in order."""
    settings = load_settings()
    analyzer, block = _analyzer(settings)
    handle = open_input(source)
    try:
        for record, entities in _analyzed(analyzer, jsonl_records(handle), block):
            if record.error is not None:
                row: dict[str, Any] = {"id": record.id, "error": record.error}
            else:
                row = {"id": record.id, "entities": [e.to_dict() for e in entities]}
            if as_json:
                emit_json(row)
            elif record.error is not None:
                stdout.print(f"{record.id}: error: {record.error}", highlight=False, markup=False)
            else:
                found = ", ".join(f"{e.type} [{e.start}:{e.end}] {record.text[e.start:e.end]!r}" for e in entities)
                stdout.print(f"{record.id}: {found or 'no PII'}", highlight=False, markup=False)
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def _redactor(settings: Settings, operator: str) -> Any:
    from detect.pii import OPERATORS

    if operator not in OPERATORS:
        raise CliError(f"unknown operator {operator!r}", hint="use one of: " + ", ".join(OPERATORS))
    return build_redactor(settings, operator)


@app.command("redact")
def redact_cmd(
    source: str = typer.Argument("-", help="Text file (one document), JSONL file with --jsonl, or - for stdin."),
    operator: str | None = typer.Option(None, "--operator", "-o",
                                        help="replace (typed placeholders), mask, hash (HMAC pseudonyms) or "
                                             "encrypt (reversible with `pii restore`); default from settings."),
    jsonl: bool = typer.Option(False, "--jsonl", help='Each line {"id"?, "text"} -> {"id", "text", "entities"}.'),
    as_json: bool = typer.Option(False, "--json", help="For plain input: one JSON object with entities and items."),
) -> None:
    """Write redacted text (stdout). With --jsonl: one JSON line per input line, errors per line."""
    settings = load_settings()
    redactor = _redactor(settings, operator or settings.pii_operator)
    analyzer, block = _analyzer(settings)
    if not jsonl:
        text = _read_text(source)
        entities = analyzer.analyze(text)
        result = redactor(text, entities)
        if as_json:
            emit_json({"text": result.text, "entities": [e.to_dict() for e in entities], "items": result.items})
        else:
            sys.stdout.write(result.text)
            sys.stdout.flush()
        return
    handle = open_input(source)
    try:
        for record, entities in _analyzed(analyzer, jsonl_records(handle), block):
            if record.error is not None:
                emit_json({"id": record.id, "error": record.error})
                continue
            result = redactor(record.text, entities)
            emit_json({"id": record.id, "text": result.text, "entities": [e.to_dict() for e in entities],
                       "items": result.items})
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


@app.command("restore")
def restore_cmd(
    source: str = typer.Argument("-", help="Text redacted with --operator encrypt, or JSONL with --jsonl."),
    jsonl: bool = typer.Option(False, "--jsonl", help='Each line {"id"?, "text"} -> {"id", "text"} decrypted.'),
) -> None:
    """Decrypt the <ENC:TYPE:...> markers written by `pii redact --operator encrypt`."""
    from detect.pii import PIIError, restore

    key = encryption_key(load_settings(), create=False)
    if not jsonl:
        sys.stdout.write(restore(_read_text(source), key))
        sys.stdout.flush()
        return
    handle = open_input(source)
    try:
        for record in jsonl_records(handle):
            if record.error is not None:
                emit_json({"id": record.id, "error": record.error})
                continue
            try:
                emit_json({"id": record.id, "text": restore(record.text, key)})
            except PIIError as exc:
                emit_json({"id": record.id, "error": str(exc)})
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


@app.command("entities")
def entities_cmd(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per entity type."),
) -> None:
    """Every entity type: the recognizers that find it, its threshold, and whether it is on (PROVENANCE_PII_*)."""
    from detect.pii.catalogue import DESCRIPTIONS, entity_table

    rows = entity_table(pii_config(load_settings()))
    if as_json:
        for row in rows:
            emit_json(row.to_dict())
        return
    for row in rows:
        state = "on " if row.enabled else "off"
        stdout.print(f"{row.type:<18} {state} threshold {row.threshold:.2f}  {', '.join(row.recognizers) or '-'}",
                     highlight=False, markup=False)
    stdout.print("\nrecognizers:", highlight=False)
    for name in sorted({n for row in rows for n in row.recognizers}):
        stdout.print(f"  {name:<30} {DESCRIPTIONS.get(name, 'Presidio built-in pattern recognizer')}",
                     highlight=False, markup=False)


@app.command("eval")
def eval_cmd(
    data: Path = typer.Argument(..., help="presidio-research JSON: a list of {full_text, spans}."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the first N samples."),
    baseline: bool = typer.Option(False, "--baseline", help="Also score Presidio's defaults (same model, same "
                                                           "scorer, analyze() per document)."),
    iou: float = typer.Option(0.5, "--iou", min=0.01, max=1.0, help="IoU a prediction needs to match a gold span."),
) -> None:
    """Span-level precision, recall and F2 (PII vs not, and per type) and docs/s; see README "PII redaction"."""
    from detect.pii.evaluation import Span, evaluate, load_presidio_json

    samples = load_presidio_json(data, limit)
    analyzer, _ = _analyzer(load_settings())
    analyzer.analyze("warm-up: John Smith, 555-123-4567")
    report = {"data": str(data), "iou_threshold": iou, "ours": evaluate(
        samples, lambda texts: [[Span(e.start, e.end, e.type) for e in found] for found in
                                analyzer.analyze_batch(texts)], iou).to_dict()}
    if baseline:
        from detect.pii.baseline import presidio_default_analyzer

        engine = presidio_default_analyzer()
        engine.analyze("warm-up: John Smith, 555-123-4567", language="en")
        report["presidio_defaults"] = evaluate(
            samples, lambda texts: [[Span(r.start, r.end, r.entity_type) for r in engine.analyze(t, language="en")]
                                    for t in texts], iou).to_dict()
    if as_json:
        emit_json(report)
        return
    for name in ("ours", "presidio_defaults"):
        if name in report:
            pii = report[name]["pii"]
            stdout.print(f"{name}: PII precision {pii['precision']:.3f} recall {pii['recall']:.3f} "
                         f"F2 {pii['f2']:.3f} ({report[name]['documents']} docs, {report[name]['docs_per_s']} docs/s)",
                         highlight=False)
    _print_per_type(report)


def _print_per_type(report: dict[str, Any]) -> None:
    """Recall per gold type and false positives per predicted type, ours beside the baseline when present."""
    systems = [n for n in ("ours", "presidio_defaults") if n in report]
    _print_type_table("recall by gold type", systems, [report[n]["per_type"]["recall"] for n in systems],
                      lambda row: f"{row['recall']:.3f} ({row['found']}/{row['gold']})" if row and row["gold"] else "-",
                      note=lambda rows: "" if any(r and r["pii"] for r in rows) else "  (not PII)")
    _print_type_table("false positives by predicted type", systems,
                      [report[n]["per_type"]["false_positives"] for n in systems],
                      lambda row: f"{row['false_positives']}/{row['predicted']}" if row else "-")


def _print_type_table(title: str, systems: list[str], tables: list[dict[str, dict[str, Any]]],
                      cell: Callable[[dict[str, Any] | None], str],
                      note: Callable[[list[dict[str, Any] | None]], str] = lambda rows: "") -> None:
    """One line per entity type (sorted), a ``cell`` per system side by side; a type a system never saw is
    ``None`` to ``cell`` and ``note``."""
    stdout.print(f"{title}: " + " | ".join(systems), highlight=False)
    for kind in sorted({t for table in tables for t in table}):
        rows = [table.get(kind) for table in tables]
        stdout.print(f"  {kind:<18} " + " | ".join(cell(row) for row in rows) + note(rows), highlight=False)
