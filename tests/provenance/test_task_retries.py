"""Which failures a chunk task retries: database and connection errors, also when an application layer wrapped
them on the way up (the store-fed host's per-chunk artifact check reports a refused connection as a
``ProvenanceError``: seen in the PostgreSQL-restart drill, where such chunks failed and waited for a stall)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from provenance.errors import ProvenanceError
from provenance.pipeline.tasks import is_transient
from provenance.store.schema import ensure_schema
from testkit.services import free_port


def test_a_refused_connection_wrapped_by_ensure_schema_is_transient() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"  # nothing listens there
    with pytest.raises(ProvenanceError, match="cannot open the database") as refused:
        ensure_schema(url)
    assert is_transient(refused.value)


def test_a_database_error_is_transient_and_an_application_error_is_not(tmp_path) -> None:  # noqa: ANN001
    engine = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'store.sqlite'}")
    with pytest.raises(OperationalError) as cut, engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert is_transient(cut.value)
    assert not is_transient(ProvenanceError("the active detector-bundle is missing from the store"))
    assert not is_transient(ValueError("a bad chunk id"))
