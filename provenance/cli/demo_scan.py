"""The demo's scanning step: build a small dump (human paragraphs mixed with fresh watermarked generations,
a few texts with personal data, one duplicate and one malformed line), scan it through a real Celery worker
on the embedded broker, and print the job summary and a few stored verdicts."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

from generator import SamplingConfig
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
FALLBACK_HUMAN = [
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, it "
    "was the season of Darkness, it was the spring of hope, it was the winter of despair.",
    "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, and "
    "nothing particular to interest me on shore, I thought I would sail about a little and see the watery part "
    "of the world.",
]


def corpus_paragraphs(corpus: Path | None, count: int, seed: int) -> list[str]:
    """``count`` paragraphs of 300-1,200 characters from the corpus, read file by file (never all of it)."""
    if corpus is None or not corpus.is_dir():
        return list(FALLBACK_HUMAN)
    picked: list[str] = []
    files = sorted(p for p in corpus.rglob("*.txt") if p.is_file())
    random.Random(seed).shuffle(files)
    for path in files:
        for paragraph in _paragraphs(path):
            if 300 <= len(paragraph) <= 1200:
                picked.append(paragraph)
                break
        if len(picked) >= count:
            break
    return picked or list(FALLBACK_HUMAN)


def _paragraphs(path: Path, limit: int = 400) -> Iterator[str]:
    block: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle):
            if number > 20_000 or limit <= 0:
                return
            if line.strip():
                block.append(line.strip())
                continue
            if block:
                limit -= 1
                yield " ".join(block)
                block = []


def build_dump(path: Path, humans: Sequence[str], machines: Sequence[str], seed: int) -> int:
    records = [{"id": f"human-{i}", "text": t} for i, t in enumerate(humans)]
    records += [{"id": f"generated-{i}", "text": t} for i, t in enumerate(machines)]
    records += [{"id": f"pii-{i}", "text": t} for i, t in enumerate(PII_TEXTS)]
    random.Random(seed).shuffle(records)
    records.append({"id": "duplicate-of-" + records[0]["id"], "text": records[0]["text"]})
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    lines.insert(len(lines) // 2, '{"id": "broken-line", "text": "this line was cut off')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def demo_scan(settings: Settings, loaded, corpus: Path | None, seed: int) -> str:
    """Generate, ledger, build the dump, scan it through a real worker; returns the job id."""
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
    machines = [item.generation.prompt + item.generation.text for item in stamped if item.generation.text]
    record_generations(settings, [item.manifest for item in stamped], actor="demo")
    humans = corpus_paragraphs(corpus, 24, seed)
    dump = settings.home / "demo" / "scan-dump.jsonl"
    lines = build_dump(dump, humans, machines, seed)
    stdout.print(f"dump {dump}: {lines} lines ({len(humans)} corpus paragraphs, {len(machines)} watermarked "
                 f"generations written to the ledger, {len(PII_TEXTS)} with personal data, 1 duplicate, "
                 "1 malformed line)", highlight=False)
    job_id = submit_paths(settings, [dump])
    summary = _wait(settings, job_id, workers=1, quiet=False)
    _print_summary(summary)
    for record in list(iter_verdicts(settings, job_id))[:6]:
        wm = record["watermark"]
        p = "-" if record["p_machine"] is None else f"{record['p_machine']:.2f}"
        stdout.print(f"  {record['source_id']:>14}: {record['verdict']:<9} P(machine)={p:<5} "
                     f"watermarked={wm['watermarked']!s:<5} PII={record['pii_count']}", highlight=False)
    return job_id
