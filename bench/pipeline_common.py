"""Shared pieces of the pipeline benchmarks: documents, data directories, worker and redis processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from provenance.pipeline.jobs import job_summary
from provenance.settings import Settings
from provenance.store import WorkerHeartbeat, session_scope

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


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


def env_for(home: Path, model: str, broker: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env.update(PROVENANCE_HOME=str(home), PROVENANCE_MODEL=model, TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
               HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", **extra)
    if broker:
        env["PROVENANCE_BROKER_URL"] = broker
    return env


def settings_for(env: dict[str, str]) -> Settings:
    """Settings as a process started with ``env`` sees them."""
    values = {k[len("PROVENANCE_"):].lower(): v for k, v in env.items() if k.startswith("PROVENANCE_")}
    return Settings(**values)


class WorkerProcess:
    def __init__(self, env: dict[str, str], concurrency: int, log: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "provenance.cli", "worker", "--concurrency",
                                         str(concurrency), "--loglevel", "WARNING"], env=env,
                                        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        self.settings = settings_for(env)
        self.log = log

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("worker exited:\n" + self.log.read_text()[-2000:])
            try:
                with session_scope(self.settings.resolved_database_url) as session:
                    if session.scalar(select(func.count()).select_from(WorkerHeartbeat)
                                      .where(WorkerHeartbeat.pid == self.process.pid)):
                        return
            except Exception:
                pass
            time.sleep(0.3)
        raise SystemExit("worker not ready in time")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(120)
            except subprocess.TimeoutExpired:
                self.kill()


class RedisProcess:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise FileNotFoundError("redis-server is not installed")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.binary, self.directory, self.process = binary, directory, None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(self.directory)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def restart(self) -> None:
        self.stop()
        self.start()


def wait_job(settings: Settings, job_id: str, condition=lambda s: s["status"] == "done", timeout: float = 7200,
             poll: float = 0.2) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary = job_summary(settings, job_id)
        if condition(summary):
            return summary
        time.sleep(poll)
    raise SystemExit(f"job {job_id} did not finish: {job_summary(settings, job_id)}")
