"""Labelled detection data: JSONL rows ``{"text", "label", "pair"?, "domain"?, "generator"?}``.

Rows that share a prompt must never sit on both sides of a train/test split, or the model learns the
prompt. ``pair`` ids are only unique within a file, and the same source passage can appear in several
files (one per generator), so rows are grouped by connected components of "same file and pair" or
"same opening words".

A row without ``domain`` takes its file name's prefix (``xsum_gpt2-xl.jsonl`` -> ``xsum``), which names a domain
when the files sharing that prefix hold both labels. Where a folder's files are split by *label or model*
instead (``human_webtext.jsonl`` beside ``gpt2-xl_pure.jsonl``), a prefix holds one label only and names no
domain: every undomained row of that folder then takes the folder's name, so one kind of text is one domain
(the per-domain false-positive checks of ``detect.ensemble`` depend on it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from detect.errors import DetectionError
from detect.text import normalize_for_detection

LABELS = {"human": 0, "machine": 1, "0": 0, "1": 1, "false": 0, "true": 1}
_PREFIX_WORDS = 12


@dataclass(frozen=True)
class LabelledText:
    text: str
    label: int  # 1 = machine
    domain: str
    generator: str
    source: str  # file name and line, for error messages
    pair: str  # file-local pair id ("" when absent)
    group: int = -1  # split group, assigned by ``assign_groups``


@dataclass(frozen=True)
class RejectedRow:
    source: str
    reason: str


def _label(value: object) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str):
        return LABELS.get(value.strip().lower())
    return None


def read_labelled(paths: Sequence[Path]) -> tuple[list[LabelledText], list[RejectedRow]]:
    """Read labelled JSONL files; bad lines are returned as rejections with a reason, never raised."""
    rows: list[LabelledText] = []
    rejected: list[RejectedRow] = []
    named_domain: set[int] = set()  # rows whose domain came from the file name
    folders: list[Path] = []
    for path in paths:
        if not path.is_file():
            raise DetectionError(f"training data file not found: {path}", hint="pass labelled JSONL files")
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                source = f"{path.name}:{number}"
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    rejected.append(RejectedRow(source, f"not valid JSON/UTF-8: {exc}"))
                    continue
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    rejected.append(RejectedRow(source, "missing string field 'text'"))
                    continue
                label = _label(record.get("label"))
                if label is None:
                    rejected.append(RejectedRow(source, f"label must be human/machine or 0/1, got "
                                                        f"{record.get('label')!r}"))
                    continue
                if not record.get("domain"):
                    named_domain.add(len(rows))
                rows.append(LabelledText(
                    text=record["text"], label=label,
                    domain=str(record.get("domain") or path.stem.split("_")[0] or "unknown"),
                    generator=str(record.get("generator") or ("human" if label == 0 else "unknown")),
                    source=source,
                    pair=f"{path.name}#{record['pair']}" if record.get("pair") is not None else "",
                ))
                folders.append(path.resolve().parent)
    return _folder_domains(rows, named_domain, folders), rejected


def _folder_domains(rows: list[LabelledText], named: set[int], folders: list[Path]) -> list[LabelledText]:
    """Name-derived domains, replaced by the folder's name where a prefix holds one label (module docstring)."""
    labels_by_prefix: dict[tuple[Path, str], set[int]] = {}
    for i in named:
        labels_by_prefix.setdefault((folders[i], rows[i].domain), set()).add(rows[i].label)
    by_label = {folder for (folder, _), labels in labels_by_prefix.items() if len(labels) < 2}
    return [replace(row, domain=folders[i].name or row.domain) if i in named and folders[i] in by_label else row
            for i, row in enumerate(rows)]


def assign_groups(rows: Sequence[LabelledText]) -> list[LabelledText]:
    """Connected components over 'same file-local pair' and 'same opening words' (see module doc)."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    first_seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        opening = " ".join(normalize_for_detection(row.text).lower().split()[:_PREFIX_WORDS])
        keys = [f"prefix:{hashlib.sha1(opening.encode()).hexdigest()}"]
        if row.pair:
            keys.append(f"pair:{row.pair}")
        for key in keys:
            if key in first_seen:
                union(first_seen[key], i)
            else:
                first_seen[key] = i
    roots: dict[int, int] = {}
    return [_with_group(row, roots.setdefault(find(i), len(roots))) for i, row in enumerate(rows)]


def _with_group(row: LabelledText, group: int) -> LabelledText:
    return LabelledText(row.text, row.label, row.domain, row.generator, row.source, row.pair, group)


def fingerprint(rows: Iterable[LabelledText]) -> str:
    """SHA-256 over (label, text) in order: identifies the exact training data in a model card."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(f"{row.label}\t".encode())
        digest.update(row.text.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()
