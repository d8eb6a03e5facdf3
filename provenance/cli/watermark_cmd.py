"""`provenance watermark detect`: model-free detection with the stored keys (tokenizer only, no weights)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from provenance.cli.config_cmd import load_settings
from provenance.cli.inputs import open_input, read_text_records
from provenance.cli.output import CliError, emit_json, stdout
from provenance.signals import signal_set
from provenance.watermark_records import abstain_record, detect_record
from watermark import WatermarkDetector

app = typer.Typer(help="Detect the platform's watermark in text.", no_args_is_help=True)

def build_detector(settings: Any, model: str | None, transformers_key: int | None) -> WatermarkDetector:
    """The watermark signal's detector (tokenizer + stored keys, plus transformers' key when asked)."""
    return signal_set(settings).get("watermark", model=model, transformers_key=transformers_key).require()


@app.command("detect")
def detect(
    source: str = typer.Argument("-", help="Text file, JSONL file (with --jsonl), or - for stdin."),
    jsonl: bool = typer.Option(False, "--jsonl", help='Each input line is {"id"?, "text"}; one output line each.'),
    windowed: bool = typer.Option(False, "--windowed", help="Also search for watermarked spans (mixed text)."),
    model: str | None = typer.Option(None, "--model", help="Model whose tokenizer and keys to use."),
    transformers_key: int | None = typer.Option(None, "--transformers-key", help="Also test transformers' "
                                                "lefthash watermark with this hashing_key (e.g. 15485863)."),
    as_json: bool = typer.Option(False, "--json", help="JSON output (always JSON lines with --jsonl)."),
    fpr: float | None = typer.Option(None, "--fpr", help="Decide at this false-positive rate (e.g. 1e-3) with the "
                                     "exact binomial test; texts too short to reach it answer too_short. "
                                     "Default: z > 4 (p < 3.17e-5)."),
) -> None:
    """Test text for the platform's watermark: exact binomial p-values, keys tested, optional spans."""
    if fpr is not None and not (0.0 < fpr < 1.0):  # NaN fails too
        raise CliError(f"--fpr must be a false-positive rate between 0 and 1 (exclusive), got {fpr}",
                       hint="e.g. --fpr 1e-3 (one false alarm in a thousand human texts)")
    settings = load_settings()
    detector = build_detector(settings, model, transformers_key).at_fpr(fpr)
    handle = open_input(source)
    try:
        if jsonl:
            for record_id, text, error in read_text_records(handle):
                if error is not None:
                    emit_json({"id": record_id, **abstain_record(error, error=error)})
                else:
                    emit_json({"id": record_id, **detect_record(detector, text, windowed)})
            return
        data = handle.read()
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
    record = detect_record(detector, data, windowed)
    if as_json:
        emit_json(record)
        return
    verdict = "[bold green]watermarked[/]" if record["watermarked"] else "not watermarked"
    if record.get("too_short"):
        verdict = f"too_short ({record['reason']})"
    elif record.get("abstain"):
        verdict = f"abstained ({record['reason']})"
    rule = f"fpr={record['fpr']:g}" if record.get("fpr") is not None else "z>4"
    stdout.print(f"{verdict}: z={record['z_score']} p={record['p_value']} "
                 f"green={record['green_fraction']} tokens={record['num_tokens_scored']} "
                 f"(needs {record.get('min_tokens_required')} at {rule}) scheme={record.get('scheme')} "
                 f"key={record['key_id']}")
    for span in record.get("spans", []):
        stdout.print(f"  span [{span['start']}, {span['end']}) p={span['p_value']:.3g}")
