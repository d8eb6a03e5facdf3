"""Demo verdicts inserted in bulk, for tests and benchmarks that need a realistic queue without running the
pipeline (kept out of the product: nothing the platform serves is seeded)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.orm import Session

from provenance.pipeline.document_scoring import review_priority
from provenance.store import session_scope, upgrade
from provenance.store.models import (
    Document,
    ScanJob,
    VerdictRow,
    utcnow,
)

_WORDS = ("the", "river", "report", "said", "that", "our", "team", "would", "review", "every", "letter", "before",
          "the", "morning", "meeting", "and", "then", "send", "a", "short", "summary", "to", "the", "council",
          "with", "notes", "on", "the", "budget", "the", "weather", "and", "the", "new", "road")


def _seed_text(rng: random.Random, index: int) -> tuple[str, list[dict[str, Any]], list[str]]:
    """A redacted-looking text with PII placeholders and their offsets (as the pipeline writes them)."""
    words = rng.choices(_WORDS, k=rng.randint(30, 70))
    pieces: list[str] = []
    entities: list[dict[str, Any]] = []
    position = 0
    for i, word in enumerate(words):
        token = word
        if i % 17 == 5 and rng.random() < 0.6:
            kind = rng.choice(("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "LOCATION"))
            token = f"<{kind}>"
            entities.append({"type": kind, "start": position, "end": position + len(token),
                             "score": round(rng.uniform(0.6, 1.0), 2)})
        pieces.append(token)
        position += len(token) + 1
    text = " ".join(pieces)
    text = text[:1].upper() + text[1:] + f". (sample {index})"
    return text, entities, sorted({e["type"] for e in entities})


def seed_demo_verdicts(session: Session, n: int, *, seed: int = 0, job_id: str = "demo-job",
                       bundle_version: str = "demo", batch: int = 5000) -> int:
    """Insert ``n`` documents and verdicts (and their job) with bulk INSERTs; returns the first verdict id.

    For tests, benchmarks and demos only: realistic shapes (PII offsets in the redacted text, detector scores,
    watermark summaries, priorities) without running the pipeline."""
    rng = random.Random(seed)
    now = utcnow()
    if session.get(ScanJob, job_id) is None:
        session.add(ScanJob(id=job_id, status="done", inputs={}, bundle_version=bundle_version, total=n,
                            documents=n, chunks_total=max(1, n // 100), chunks_done=max(1, n // 100),
                            new_verdicts=n, submission_done=True, created_at=now, started_at=now, finished_at=now))
        session.flush()
    first_doc = int(session.scalar(select(func.coalesce(func.max(Document.id), 0))) or 0) + 1
    first_verdict = int(session.scalar(select(func.coalesce(func.max(VerdictRow.id), 0))) or 0) + 1
    for start in range(0, n, batch):
        documents, verdicts = [], []
        for offset in range(start, min(n, start + batch)):
            index = first_doc + offset
            text, entities, types = _seed_text(rng, index)
            p = rng.random()
            verdict = "machine" if p > 0.8 else "human" if p < 0.2 else "uncertain"
            if rng.random() < 0.02:
                verdict, p = "abstain", None
            margin = None if p is None else round(min(abs(p - 0.8), abs(p - 0.2)), 4)
            z = round(rng.gauss(1.5 if verdict == "machine" else 0.0, 2.0), 3)
            watermarked = z > 4.0
            misuse = rng.random() < 0.03
            # The pipeline's own rule (the registered signals' review shares), so a seeded row's priority is what
            # a scan would store for the same columns and the item page's breakdown adds up to it.
            needs, priority = review_priority(misuse=misuse, watermarked=watermarked, verdict=verdict, p_machine=p,
                                              margin=margin, pii_count=len(entities), ledger_match=False)
            documents.append({"id": index, "content_hash": f"{seed:04d}{index:060d}"[-64:], "source_id":
                              f"{job_id}/{offset}", "num_chars": len(text), "redacted_text": text,
                              "created_at": now})
            detectors = {"perplexity": round(rng.random(), 3), "classifier": round(rng.random(), 3),
                         "fast_detectgpt": round(rng.random(), 3)}
            watermark = {"z_score": z, "p_value": 1e-6 if watermarked else 0.4, "watermarked": watermarked,
                         "key_id": "wm-demo" if watermarked else None, "num_tokens_scored": len(text) // 5}
            pii_types = ("," + ",".join(types) + ",") if types else ""
            verdicts.append({
                "document_id": index, "bundle_version": bundle_version, "job_id": job_id, "p_machine": p,
                "verdict": verdict, "margin": margin, "watermarked": watermarked, "watermark_z": z,
                "ledger_manifest_id": None, "pii_count": len(entities), "pii_types": pii_types, "p_toxic": None,
                "misuse": misuse, "models": {"bundle": bundle_version},
                "signals": {  # each signal's record, as the pipeline stores it
                    "detection": {"p_machine": p, "verdict": verdict, "margin": margin, "detectors": detectors,
                                  "reasons": [] if verdict != "abstain" else ["too few tokens"],
                                  "num_tokens": len(text) // 4},
                    "pii": {"items": entities, "count": len(entities), "types": pii_types},
                    "toxicity": None, "watermark": watermark, "provenance": None},
                "versions": {"detection": bundle_version},
                "needs_review": needs, "review_priority": priority, "review_status": None,
                "created_at": now})
        connection = session.connection()  # Core executemany: no RETURNING, no per-row ORM work
        connection.execute(Document.__table__.insert(), documents)
        connection.execute(VerdictRow.__table__.insert(), verdicts)
    return first_verdict


def seeded_sqlite_store(directory: Path, n: int, *, seed: int = 0) -> str:
    """A SQLite store at head in ``directory`` holding ``n`` seeded verdicts; its URL."""
    url = f"sqlite:///{directory / 'provenance.sqlite'}"
    upgrade(url)
    with session_scope(url) as db:
        seed_demo_verdicts(db, n, seed=seed)
    return url
