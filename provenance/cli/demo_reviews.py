"""The demo's review decisions, so the review loop runs on the demo's own data right after ``make demo``.

The scanned held-out labelled examples (rows of ``--detect-data`` outside the bundle's training sample) come with
their true label, so the demo reviewer decides each of them ``machine`` or ``human`` accordingly, through the
same ``review.decide`` the dashboard uses (audited, one decision per verdict). A retrain refuses redacted text,
and the store keeps only redacted text by default (``PROVENANCE_STORE_RAW_TEXT``): the demo keeps the raw text of
exactly these documents, public labelled rows, never its personal-data samples or its generations. The text kept
is the one the scan read, matched by its content hash. A second run decides only examples not decided before.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from provenance.cli.demo_heldout import Example
from provenance.cli.output import stdout
from provenance.settings import Settings

LABELS = {"human-labelled": "human", "machine-labelled": "machine"}
NOTE = "seeded by provenance demo: the label of this held-out example in its data file"
LOOP_BUNDLE = "reviewed"


@dataclass
class Seeded:
    new: dict[str, int]  # label -> decisions made by this run
    earlier: int  # labelled examples already decided (by an earlier run or a reviewer)

    @property
    def total(self) -> int:
        return sum(self.new.values()) + self.earlier


def seed_decisions(settings: Settings, job_id: str, examples: Sequence[Example], reviewer: str) -> Seeded:
    """Decide the job's verdict of each labelled example with its true label, as ``reviewer``, keeping its
    raw text. Examples whose document was decided before (any verdict, anyone) are left as they are."""
    from sqlalchemy import select, update

    from generator.stamping import text_sha256
    from provenance import review
    from provenance.store import Document, ReviewDecision, ScanJob, VerdictRow, session_scope

    url = settings.resolved_database_url
    labelled = {text_sha256(e.text): (e.text, LABELS[e.kind]) for e in examples if e.kind in LABELS}
    result = Seeded(new={"machine": 0, "human": 0}, earlier=0)
    if not labelled:
        return result
    with session_scope(url) as session:
        version = session.get(ScanJob, job_id).bundle_version
        documents = dict(session.execute(select(Document.content_hash, Document.id)
                                         .where(Document.content_hash.in_(list(labelled)))).all())
        decided = set(session.scalars(select(VerdictRow.document_id).join(ReviewDecision,
                                                                       ReviewDecision.verdict_id == VerdictRow.id)
                                      .where(VerdictRow.document_id.in_(list(documents.values())))))
        verdicts = dict(session.execute(select(VerdictRow.document_id, VerdictRow.id).where(
            VerdictRow.document_id.in_(list(documents.values())), VerdictRow.bundle_version == version,
            VerdictRow.review_status.is_(None))).all())
    for content_hash, document_id in sorted(documents.items(), key=lambda item: item[1]):
        text, label = labelled[content_hash]
        with session_scope(url) as session:
            if document_id in decided:
                result.earlier += 1
            elif document_id in verdicts:
                review.decide(session, verdicts[document_id], reviewer, label, NOTE)
                result.new[label] += 1
            else:
                continue
            session.execute(update(Document).where(Document.id == document_id, Document.raw_text.is_(None))
                            .values(raw_text=text))
    return result


def loop_bundle_name(settings: Settings) -> str:
    """``reviewed``, or ``reviewed-2``, ``-3``... when that bundle exists (after a promotion it is the active one,
    which a retrain must never overwrite)."""
    from provenance.bundles import bundle_dir

    name, n = LOOP_BUNDLE, 1
    while bundle_dir(settings, name).exists():
        n += 1
        name = f"{LOOP_BUNDLE}-{n}"
    return name


def print_review_loop(settings: Settings, seeded: Seeded, reviewer: str, detect_data: Sequence[Path],
                      max_texts: int, seed: int) -> None:
    """What was seeded, and the loop's three commands on the demo's data, in the demo's hint style."""
    new = seeded.new
    out = loop_bundle_name(settings)
    stdout.print(f"\nreview decisions: {new['machine'] + new['human']} seeded as reviewer '{reviewer}' "
                 f"({new['machine']} machine, {new['human']} human: the held-out labelled examples' own labels; "
                 f"their raw text kept for retraining), {seeded.earlier} decided earlier", highlight=False)
    base = " ".join(f"--base {shlex.quote(str(path))}" for path in detect_data)
    stdout.print("teach the detector with them (retrain on the demo's sample plus the reviewed texts; promoted "
                 "only when at least as good):", highlight=False)
    stdout.print("  provenance reviews export --format jsonl --output reviewed.jsonl", highlight=False)
    stdout.print(f"  provenance detect retrain --from-reviews {base} --max-texts {max_texts} --seed {seed} "
                 f"--out {out}", highlight=False)
    stdout.print(f"  provenance detect promote {out}", highlight=False)
