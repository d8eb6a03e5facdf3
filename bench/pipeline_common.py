"""Shared pieces of the pipeline benchmarks: documents, data directories, worker and redis processes."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from provenance.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))  # the repository root, for testkit (the harness the tests use too)

from testkit.services import RedisServer, redis_binary  # noqa: E402,F401 - RedisServer for the benches
from testkit.workers import WorkerProcess, settings_for, worker_env  # noqa: E402,F401 - the benches import them from here
from testkit.workers import wait_job as wait_job_for  # noqa: E402

env_for = worker_env


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every pipeline bench shares: the scorer model, the detector bundle, the texts it scans."""
    parser.add_argument("--model", default=os.environ.get("PROVENANCE_MODEL")
                        or str(SHARED / "models" / "gpt2-corpus-27m"))
    parser.add_argument("--bundle", type=Path, default=Path(".provenance/detectors/default"))
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "detect")
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus")


def unique_documents(count: int, data: Path, corpus: Path) -> list[str]:
    """Distinct texts: the labelled detection data first (human and machine), then corpus paragraphs."""
    seen: set[str] = set()
    texts: list[str] = []
    for path in sorted(data.glob("*.jsonl")) if data.is_dir() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line)["text"].strip()
            if text and text not in seen:
                seen.add(text)
                texts.append(text)
    for path in sorted(corpus.rglob("*.txt")) if corpus.is_dir() else []:
        if len(texts) >= count:
            break
        for paragraph in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            paragraph = " ".join(paragraph.split())
            if 200 <= len(paragraph) <= 2000 and paragraph not in seen:
                seen.add(paragraph)
                texts.append(paragraph)
    if len(texts) < count:
        raise SystemExit(f"only {len(texts)} distinct documents found under {data} and {corpus}")
    return texts[:count]


def write_jsonl(path: Path, texts: list[str], prefix: str = "doc") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for index, text in enumerate(texts):
            handle.write(json.dumps({"id": f"{prefix}-{index}", "text": text}) + "\n")
    return path


def fresh_home(base: Path, name: str) -> Path:
    """A copy of the prepared data directory (bundle, keys) without any database, cache or broker."""
    home = base.parent / name
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(base, home, ignore=shutil.ignore_patterns("*.sqlite*", "cache", "*.log"))
    return home


def start_redis(directory: Path) -> RedisServer:
    """A loopback redis-server without persistence (a restart forgets every queued message)."""
    binary = redis_binary()
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install -y redis-server)")
    directory.mkdir(parents=True, exist_ok=True)
    server = RedisServer(binary, directory)
    server.start()
    return server


def wait_job(settings: Settings, job_id: str, condition=lambda s: s["status"] == "done",  # noqa: ANN001
             poll: float = 0.2) -> dict:
    """The job's summary once ``condition`` holds; a benchmark's job may run for up to two hours."""
    return wait_job_for(settings, job_id, condition, timeout=7200, poll=poll)
