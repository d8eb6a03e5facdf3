"""Schema management through Alembic: ``provenance db upgrade`` and the check every command makes first."""

from __future__ import annotations

import ast
import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import make_url

from provenance.errors import ProvenanceError
from provenance.store.engine import get_engine, normalise_url

if TYPE_CHECKING:  # Alembic loads only to migrate (about half a second of imports the CLI's light commands skip)
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise ProvenanceError(f"migrations not found at {MIGRATIONS_DIR}",
                              hint="install the project from its source tree (pip install -e .)")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


_head_lock = threading.Lock()
_head_cache: dict[tuple, str | None] = {}


def _declared_head() -> str | None:
    """The head revision read from the migration files, cached per set of files (name, size, mtime).

    Serialised by a lock: CPython 3.11's ``ast.parse`` is not safe to run from several threads at once (it
    raises "AST constructor recursion depth mismatch"), and the dashboard signs people in from many threads."""
    paths = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
    signature = tuple((path.name, path.stat().st_size, path.stat().st_mtime_ns) for path in paths)
    with _head_lock:
        if signature not in _head_cache:
            _head_cache.clear()
            _head_cache[signature] = _parse_head(paths)
        return _head_cache[signature]


def _parse_head(paths: list[Path]) -> str | None:
    """The head revision read from the migration files' ``revision``/``down_revision`` assignments without
    importing Alembic; None when that is not a single plain chain (Alembic then decides)."""
    revisions: dict[str, object] = {}
    for path in paths:
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.target if isinstance(node, ast.AnnAssign) else (
                node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision") and node.value:
                try:
                    values[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    return None
        if not isinstance(values.get("revision"), str):
            return None
        revisions[values["revision"]] = values.get("down_revision")
    parents = set(revisions.values())
    heads = [revision for revision in revisions if revision not in parents]
    return heads[0] if len(heads) == 1 else None


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _stored_revision(url: str) -> str | None:
    """``alembic_version.version_num`` with a plain query (None when the table is missing or holds not one row)."""
    try:
        with get_engine(url).connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except Exception:
        return None
    return rows[0][0] if len(rows) == 1 else None


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


def _migrate(url: str, direction: str, revision: str) -> tuple[str | None, str | None]:
    """Run Alembic's ``upgrade`` or ``downgrade`` to ``revision`` under the per-database lock, on one connection
    in one transaction; returns (before, after)."""
    with _upgrade_lock(url):
        before = current_revision(url)
        from alembic import command

        with get_engine(url).begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            getattr(command, direction)(config, revision)
        return before, current_revision(url)


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    """Migrate to ``revision``; returns (before, after)."""
    return _migrate(url, "upgrade", revision)


def downgrade(url: str, revision: str) -> tuple[str | None, str | None]:
    """Migrate back to ``revision`` (an operator's rollback; every migration's downgrade keeps the data);
    returns (before, after)."""
    return _migrate(url, "downgrade", revision)


def ensure_schema(url: str, *, auto_upgrade: bool = True) -> None:
    """Make sure the database is at the head revision: upgrade it (default) or say how to.

    The common case (already at head) is answered by one plain query against the head read from the
    migration files, without importing Alembic; anything else goes through Alembic."""
    declared = _declared_head()
    if declared is not None and _stored_revision(url) == declared:
        return
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
