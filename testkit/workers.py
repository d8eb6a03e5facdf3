"""`provenance worker` as a real process, for the pipeline tests and benchmarks alike.

Each worker runs in its own process group, so SIGKILL reaches the prefork pool children too, and counts as ready
once its heartbeat row is in the store (the state the scheduler itself relies on), not after a fixed sleep."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from provenance.pipeline.jobs import job_summary
from provenance.settings import Settings
from provenance.store import WorkerHeartbeat, session_scope
from testkit.waiting import wait_until


def worker_env(home: Path, model: str | Path, broker: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a process started on ``home``: no inherited PROVENANCE_* setting, hub offline, one
    thread per process, no network lookup for Presidio's suffix list."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    env.update(PROVENANCE_HOME=str(home), PROVENANCE_MODEL=str(model), TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
               HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", **extra)
    if broker:
        env["PROVENANCE_BROKER_URL"] = broker
    return env


def settings_for(env: dict[str, str]) -> Settings:
    """Settings as a process started with ``env`` sees them."""
    values = {k[len("PROVENANCE_"):].lower(): v for k, v in env.items() if k.startswith("PROVENANCE_")}
    return Settings(**values)


class WorkerProcess:
    """One `provenance worker` process; ``log`` collects its output (shown when it fails to start)."""

    def __init__(self, env: dict[str, str], log: Path, *, concurrency: int = 1, loglevel: str | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "provenance.cli", "worker", "--concurrency", str(concurrency), *extra]
        if loglevel:
            command += ["--loglevel", loglevel]
        self.log = log
        self.process = subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.settings = settings_for(env)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def _heartbeats(self) -> int:
        if self.process.poll() is not None:
            raise RuntimeError("worker exited:\n" + self.log_tail())
        with session_scope(self.settings.resolved_database_url) as session:
            return int(session.scalar(select(func.count()).select_from(WorkerHeartbeat)
                                      .where(WorkerHeartbeat.pid == self.process.pid)) or 0)

    def wait_ready(self, timeout: float = 180) -> None:
        """Until the worker's heartbeat is stored; fails at once with its log if the process exits."""
        def probe() -> int:
            try:
                return self._heartbeats()
            except RuntimeError:
                raise
            except Exception:  # noqa: BLE001 - the store may not exist until the worker creates it
                return 0

        try:
            wait_until(probe, timeout=timeout, interval=0.3, what="worker heartbeat")
        except RuntimeError as error:
            raise AssertionError(str(error)) from None
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.log_tail()}") from None

    def kill(self) -> None:
        """SIGKILL the whole process group (the pool children too), as a crashed host would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self, timeout: float = 90) -> int:
        """SIGTERM (a warm shutdown), SIGKILL after ``timeout``; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return self.process.returncode


    def stop(self, timeout: float = 120) -> None:
        """Warm shutdown when possible, SIGKILL otherwise; never raises (for a benchmark's cleanup)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.terminate(timeout)


def wait_job(settings: Settings, job_id: str, condition=lambda s: s["status"] == "done",  # noqa: ANN001
             timeout: float = 600, poll: float = 0.2) -> dict:
    """The job's summary once ``condition`` holds for it."""
    return wait_until(lambda: job_summary(settings, job_id), timeout=timeout, interval=poll, done=condition,
                      what=f"job {job_id}")
