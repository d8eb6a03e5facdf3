"""Schema management through Alembic: ``provenance db upgrade`` and the check every command makes first."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from provenance.errors import ProvenanceError
from provenance.store.engine import get_engine, normalise_url

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise ProvenanceError(f"migrations not found at {MIGRATIONS_DIR}",
                              hint="install the project from its source tree (pip install -e .)")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _upgrade_lock(url: str) -> Iterator[None]:
    """Serialise concurrent upgrades of one SQLite file (workers starting together); servers lock themselves."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        yield
        return
    lock_path = Path(parsed.database + ".migrate-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to ``revision``; returns (before, after)."""
    with _upgrade_lock(url):
        before = current_revision(url)
        engine = get_engine(url)
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return before, current_revision(url)


def ensure_schema(url: str, *, auto_upgrade: bool = True) -> None:
    """Make sure the database is at the head revision: upgrade it (default) or say how to."""
    head = head_revision()
    try:
        current = current_revision(url)
    except Exception as exc:
        raise ProvenanceError(f"cannot open the database: {exc.__class__.__name__}: {exc}".splitlines()[0],
                              hint="check PROVENANCE_DATABASE_URL and that the server is running") from None
    if current == head:
        return
    if not auto_upgrade:
        raise ProvenanceError(f"the database is at revision {current or 'none'}, the code needs {head}",
                              hint="run provenance db upgrade")
    upgrade(url)
