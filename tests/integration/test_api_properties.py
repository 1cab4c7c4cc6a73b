"""Property-based: schemathesis generates requests from the OpenAPI description and checks
every answer against it — no 5xx, documented status codes and content types, bodies that
match their schemas — on a served dashboard with a leader's token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from config.settings import Settings
from dashboard.openapi import openapi_document
from tests.support.auth import create_token
from tests.support.http import served_dashboard

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("broker", ["mosquitto"], indirect=True)]

schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    """The dashboard on this test's database."""
    with served_dashboard(settings) as url:
        yield url


@pytest.fixture
async def token(database_url: str) -> str:
    """A leader's token: every route is open to it."""
    return await create_token(database_url, "leader")


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_every_answer_matches_the_description(case: schemathesis.Case[Any], served: str,
                                              token: str) -> None:
    case.call_and_validate(
        base_url=served, headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance])
