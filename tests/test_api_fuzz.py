"""Property-based fuzzing of the published OpenAPI contract (schemathesis): whatever the body, path parameter
or header, the API answers without a 5xx. Bounded (a few examples per operation) so it runs in seconds.

Generation and scanning are fuzzed with a key that lacks their scopes (their handlers run models and queue
jobs, which only slows the run down; their input validation is covered by the positive tests), so those
operations exercise the auth and validation layers; verification and lookups run end to end.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from provenance.apikeys import create_api_key
from tests.test_api_app import api_app, api_settings  # noqa: F401 - shared fixtures


@pytest.fixture(scope="module")
def fuzz_target(api_app, api_settings):  # noqa: ANN001, ANN201, F811 - fixtures from tests.test_api_app
    _key_id, key = create_api_key(api_settings.resolved_database_url, name="fuzz", scopes="verify",
                                  requests_per_minute=1_000_000)
    with TestClient(api_app):  # runs the lifespan: detector loaded once
        yield api_app, key


def test_no_server_errors(fuzz_target) -> None:  # noqa: ANN001
    app, key = fuzz_target
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_5xx(case) -> None:  # noqa: ANN001
            case.validate_response(case.call(headers=headers), checks=[not_a_server_error])

        no_5xx()

