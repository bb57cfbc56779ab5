"""Property-based fuzzing of the JSON API from its OpenAPI schema (schemathesis).

Slow by design, so it runs only with MATCHMAKER_FUZZ=1 (`make fuzz`). Each operation of
/openapi.json gets generated requests, valid and invalid, in-process and inside the test
transaction: as an administrator (to reach deep code) and anonymously. Nothing may answer
5xx, answers must match the documented schemas, and anonymous writes must be refused.
"""

import os

import pytest

if not os.environ.get("MATCHMAKER_FUZZ"):
    pytest.skip("API fuzzing runs with `make fuzz` (MATCHMAKER_FUZZ=1)", allow_module_level=True)

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from matchmaker.main import create_app

MAX_EXAMPLES = int(os.environ.get("MATCHMAKER_FUZZ_EXAMPLES", "300"))
# CI replays the same generated requests every run, so a red fuzz run is reproducible.
DERANDOMIZE = os.environ.get("CI") == "true"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC_WRITES = {("POST", "/api/v1/auth/token")}
# Probes take no input; /readyz answers 503 on purpose when the test database has no
# migration stamp.
PROBES = {"/healthz", "/readyz"}


def _operations(app) -> dict[str, object]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = (r.ok() for r in schema.get_all_operations())
    return {op.label: op for op in operations if op.path not in PROBES}


LABELS = sorted(_operations(create_app()))


def _strategy(operation) -> st.SearchStrategy:
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )


@pytest.mark.parametrize("label", LABELS)
def test_operation_as_admin(label, app, make_user, api_headers) -> None:
    operation = _operations(app)[label]
    headers = api_headers(make_user("admin"))

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation))
    def run(case) -> None:
        response = case.call(headers=headers)
        case.validate_response(
            response,
            checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
        )

    run()


@pytest.mark.parametrize("label", LABELS)
def test_operation_anonymously(label, app) -> None:
    operation = _operations(app)[label]

    @settings(
        max_examples=max(10, MAX_EXAMPLES // 4),
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation))
    def run(case) -> None:
        response = case.call()
        case.validate_response(response, checks=[not_a_server_error])
        method = case.method.upper()
        if method in WRITES and (method, operation.path) not in PUBLIC_WRITES:
            # Usually 401; 400/422 for a body that is not even JSON, which FastAPI rejects
            # before any dependency runs. Never a success.
            assert 400 <= response.status_code < 500, (
                method,
                case.formatted_path,
                response.status_code,
            )

    run()
