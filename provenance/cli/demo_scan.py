"""The demo's scanning step: build a small dump (the demo's own watermarked generations, held-out human and
machine texts of each kind, a few texts with personal data, one duplicate and one malformed line), scan it
through a real Celery worker on the embedded broker, and print the job summary and the verdict counts per
kind: what the detector gets right and wrong on text it never saw, next to what the watermark proves."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from generator import SamplingConfig
from provenance.cli.demo_heldout import Example
from provenance.cli.output import stderr, stdout
from provenance.settings import Settings
from provenance.stamped_generation import generate_stamped
from provenance.store.ledger import record_generations

SCAN_PROMPTS = [
    "The committee met on Tuesday to discuss", "Long before the railway reached the valley,",
    "According to the annual report, the company", "The old lighthouse keeper told us that",
    "Researchers at the university have found", "When the war ended, the soldiers returned",
    "The recipe calls for two cups of flour and", "In his letter to the editor, the mayor argued",
]
PII_TEXTS = [
    "Please send the signed contract to Margaret Thompson at margaret.thompson@example.org before Friday, or "
    "call her office on 020 7946 0958. The invoice should go to 14 Harbour Street, Bristol BS1 4RN.",
    "Patient John Miller, born 12/03/1961, was seen on Monday; his card number 4111 1111 1111 1111 was charged "
    "for the consultation and a follow-up is booked with Dr. Alice Wong.",
]
KIND_NAMES = {
    "generated": "ours: watermarked generations",
    "human-corpus": "human: held-out corpus docs",
    "human-labelled": "human: held-out labelled",
    "machine-labelled": "other LLMs: held-out labelled",
    "pii": "personal data (demo-written)",
}
VERDICTS = ("machine", "human", "uncertain", "abstain")


def build_dump(path: Path, examples: Sequence[Example], seed: int) -> int:
    """Write the dump: one JSON line per example (its id names its kind), shuffled, then a duplicate of the
    first line and a malformed line in the middle (both must be reported, not scored twice or crash)."""
    counters: Counter[str] = Counter()
    records = []
    for example in examples:
        records.append({"id": f"{example.kind}-{counters[example.kind]}", "text": example.text})
        counters[example.kind] += 1
    random.Random(seed).shuffle(records)
    records.append({"id": "duplicate-of-" + records[0]["id"], "text": records[0]["text"]})
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    lines.insert(len(lines) // 2, '{"id": "broken-line", "text": "this line was cut off')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def kind_of(source_id: str) -> str | None:
    """The example kind a dump id names (``generated-3`` -> ``generated``); None for the duplicate line."""
    if source_id.startswith("duplicate-of-"):
        return None
    kind = source_id.rsplit("-", 1)[0]
    return kind if kind in KIND_NAMES else None


def demo_scan(settings: Settings, loaded, examples: Sequence[Example], seed: int) -> str:
    """Generate, ledger, build the dump, scan it through a real worker, print counts per kind; returns the job
    id."""
    from provenance.cli.scan_cmd import _print_summary, _wait
    from provenance.pipeline.export import iter_verdicts
    from provenance.pipeline.submission import submit_paths

    stderr.rule("[bold]scanning a text dump through the pipeline")
    context = int(getattr(loaded.model.config, "n_positions", 1024))
    longest = max(len(loaded.tokenizer(prompt)["input_ids"]) for prompt in SCAN_PROMPTS)
    new_tokens = max(4, min(96, context - longest))  # small test models have short contexts
    sampling = SamplingConfig(max_new_tokens=new_tokens, min_new_tokens=min(64, new_tokens), seed=seed + 1,
                              top_k=50, temperature=0.9)
    stamped = generate_stamped(settings, loaded, SCAN_PROMPTS, sampling, requester="demo")
    record_generations(settings, [item.manifest for item in stamped], actor="demo")
    generated = [Example("generated", item.generation.prompt + item.generation.text, "this demo")
                 for item in stamped if item.generation.text]
    pii = [Example("pii", text, "written for the demo") for text in PII_TEXTS]
    everything = [*generated, *examples, *pii]
    dump = settings.home / "demo" / "scan-dump.jsonl"
    lines = build_dump(dump, everything, seed)
    kinds = Counter(example.kind for example in everything)
    stdout.print(f"dump {dump}: {lines} lines ("
                 + ", ".join(f"{count} {KIND_NAMES[kind]}" for kind, count in kinds.items())
                 + "; the generations are in the ledger; 1 duplicate, 1 malformed line)", highlight=False)
    job_id = submit_paths(settings, [dump])
    summary = _wait(settings, job_id, workers=1, quiet=False)
    _print_summary(summary)
    records = list(iter_verdicts(settings, job_id))
    print_kind_table(records)
    for record in records[:6]:
        wm = record["watermark"]
        p = "-" if record["p_machine"] is None else f"{record['p_machine']:.2f}"
        stdout.print(f"  {record['source_id']:>18}: {record['verdict']:<9} P(machine)={p:<5} "
                     f"watermarked={wm['watermarked']!s:<5} PII={record['pii_count']}", highlight=False)
    return job_id


def print_kind_table(records: Sequence[dict]) -> None:
    """Verdict counts per kind of text, and how many the watermark test flagged: the detector's honest
    picture on text it never saw (statistical verdicts) next to the watermark's (proof, for our own text)."""
    from rich.table import Table

    counts: dict[str, Counter[str]] = {}
    for record in records:
        kind = kind_of(str(record["source_id"]))
        if kind is None:
            continue
        tally = counts.setdefault(kind, Counter())
        tally[f"verdict:{record['verdict']}"] += 1
        tally["watermarked"] += bool((record.get("watermark") or {}).get("watermarked"))
        tally["n"] += 1
    seen = {key.split(":", 1)[1] for tally in counts.values() for key in tally if key.startswith("verdict:")}
    columns = [*VERDICTS, *sorted(seen - set(VERDICTS))]
    table = Table(title="verdicts per kind of text: the machine-text detector, and the watermark",
                  show_header=True)
    table.add_column("kind", no_wrap=True)
    for verdict in columns:
        table.add_column(verdict, justify="right")
    table.add_column("watermarked", justify="right")
    for kind, name in KIND_NAMES.items():
        if kind in counts:
            tally = counts[kind]
            table.add_row(f"{name} ({tally['n']})", *(str(tally[f"verdict:{v}"]) for v in columns),
                          str(tally["watermarked"]))
    stdout.print(table)
    stdout.print("  the detector's verdicts are statistical (it errs, most on other LLMs' text and short texts); "
                 "a watermark is proof for text this platform generated", highlight=False)
