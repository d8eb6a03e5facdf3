"""Real servers for tests and benchmarks: redis-server and PostgreSQL on 127.0.0.1, random free ports, temp dirs,
stopped by PID. The pytest fixtures that wrap them (and skip or fail when a binary is missing) are in
``tests/conftest.py``; a benchmark uses the classes directly."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from testkit.waiting import wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    """Until something accepts connections on 127.0.0.1:``port``."""
    def listening() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True

    wait_until(listening, timeout=timeout, interval=0.1, what=f"a listener on 127.0.0.1:{port}")


def stop_pid(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class RedisServer:
    """A redis-server without persistence: a restart forgets every queued message (the hard case)."""

    binary: str
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            stop_pid(self.process)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def redis_binary() -> str | None:
    """The redis-server binary, or None when it is not installed."""
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    return found if Path(found).exists() else None


def postgres_bindir() -> str | None:
    """The newest installed PostgreSQL's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(found[-1]).parent) if found else None


@dataclass
class PostgresServer:
    bindir: str
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def _as_owner(self) -> list[str]:
        """initdb and postgres refuse to run as root: run them as the postgres system user then."""
        return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        data = self.directory / "data"
        if os.geteuid() == 0:
            uid = pwd.getpwnam("postgres")
            os.chown(self.directory, uid.pw_uid, uid.pw_gid)
        subprocess.run([*self._as_owner(), f"{self.bindir}/initdb", "-D", str(data), "-U", "postgres",
                        "--auth=trust", "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
        self._run()

    def restart(self) -> None:
        """What an operator's ``pg_ctl restart -m fast`` does: every open connection is cut (clients see
        ``AdminShutdown``), then the same data directory is served again on the same port."""
        subprocess.run([*self._as_owner(), f"{self.bindir}/pg_ctl", "-D", str(self.directory / "data"), "-m",
                        "fast", "-w", "stop"], check=True, capture_output=True)
        if self.process is not None:
            self.process.wait(30)
        self._run()

    def _run(self) -> None:
        data = self.directory / "data"
        self.process = subprocess.Popen(
            [*self._as_owner(), f"{self.bindir}/postgres", "-D", str(data), "-p", str(self.port), "-k",
             str(self.directory), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(self.port)

    def create_database(self, name: str) -> str:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as connection:
                    connection.execute(f'CREATE DATABASE "{name}"')
                return self.url(name)
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            # runuser forwards SIGTERM to postgres: a "smart" shutdown. Fall back to the process group.
            stop_pid(self.process)
            self.process = None
