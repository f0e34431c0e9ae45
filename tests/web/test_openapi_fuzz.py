"""Schemathesis against the OpenAPI document: no generated request makes the API answer 500.

Every operation of `/api/v1/openapi.json` gets Hypothesis-generated cases (derandomized, so
runs repeat), sent as the admin through a bearer token on the small shop (SQLite; the same
routes run on PostgreSQL in the other web tests).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from kernel.clock import now
from kernel.orm import unit_of_work
from restock.accounts import create_api_token
from restock.settings import load_settings
from restock.web.app import create_app
from tests.web.shop import seed_shop


def test_no_generated_request_makes_the_api_fail(sqlite_engine) -> None:  # type: ignore[no-untyped-def]
    seed_shop(sqlite_engine, extra_lines=3)
    config = load_settings()
    with unit_of_work(sqlite_engine) as session:
        token = create_api_token(session, user_name="ada", token_name="fuzz", now=now(config.tz), actor="ada")
    app = create_app(engine=sqlite_engine, settings=config)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            case.validate_response(response, checks=[not_a_server_error])

        run()
