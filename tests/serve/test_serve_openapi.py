"""schemathesis against the live server's ``/openapi.json``: no 5xx, every answer as documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

#: Generated cases per operation and generation mode (the run stays well under a minute).
EXAMPLES = 25


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_the_openapi_document_holds(server, mode):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v2/models/{name}/infer", "/predict/{name}", "/api/components", "/metrics"}
    exercised = set()
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=30)

        try:
            check()
        except Unsatisfiable:
            # Negative mode: an operation without parameters (or with only free-form strings) has no invalid input.
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
        else:
            exercised.add(operation.label)
    assert {"POST /v2/models/{name}/infer", "POST /predict/{name}", "DELETE /api/components/{type_id}/{identifier}/versions/{version}"} <= exercised
