"""The OpenAPI document describes the API: schemathesis, with every check, against the
application in process (SQLite, the example catalog), on the API-key and device routes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.python.asgi import shutdown_lifespans

from clarion.api.app import asgi_app
from clarion.channels.provider_config import InAppConfig, SinkConfig
from clarion.inapp import issue_device_token
from clarion.service import Service
from tests.integration.pipeline_support import API_KEY, settings_for

DEVICE_SECRET = b"d" * 32
#: Examples per operation and phase: enough to cover each parameter's cases and keep
#: the whole run well under a minute on a loaded machine.
EXAMPLES = 50
#: Sequences of up to six calls in the stateful test.
SEQUENCES = 20
#: Operations with rules no JSON Schema can state, which refuse some schema-valid
#: requests with an error naming the field, and the statuses they may answer to such
#: requests (``positive_data_acceptance`` would otherwise call them failures): an
#: event's ``id`` must equal its ``Idempotency-Key`` header and its ``occurred_at``
#: lie between 1970 and a little ahead of now; a profile's or device's ``locale`` and
#: ``timezone`` must be known (Babel, IANA); a feedback object must be one Clarion
#: signed; insights' ``since`` must precede ``until`` within 2,000 buckets and
#: ``group_by`` name each known group once; a report's ``message`` must be in the
#: catalog (422); a ``cursor`` must be one the endpoint returned (400).
SEMANTIC = {
    "POST /v1/events": "422",
    "POST /v1/events:batch": "422",
    "PUT /v1/profiles/{profile_id}": "422",
    "PUT /v1/profiles/{profile_id}/devices/{device_id}": "422",
    "POST /v1/inapp/feedback": "422",
    "GET /v1/insights/delivery": "422",
    "GET /v1/reports/incrementality": "422",
    "GET /v1/profiles/{profile_id}/messages": "400",
    "GET /v1/inapp/notifications": "400",
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("openapi")
    service = Service(
        settings_for(
            f"sqlite:///{tmp / 'clarion.db'}",
            tmp,
            providers={"sink": SinkConfig(path=tmp / "sink.jsonl"), "inapp": InAppConfig()},
            device_token_secrets={"default": DEVICE_SECRET.decode()},
            feedback_keys={"k1": "f" * 32},
            run_workers=False,
        )
    )
    device = issue_device_token(DEVICE_SECRET, "fuzzed", timedelta(hours=2))
    config = SchemathesisConfig.from_dict(
        {
            # No NUL characters: every text field refuses them (PostgreSQL cannot store
            # them), a rule tests/integration/test_bad_input.py covers route by route.
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "allow-x00": False},
            # Each security scheme of the document with a credential of its kind.
            "auth": {"openapi": {"ApiKey": {"bearer": API_KEY}, "DeviceToken": {"bearer": device}}},
            "operations": [
                {
                    "include-name": name,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "401", "403", "404", "409", status]
                        }
                    },
                }
                for name, status in SEMANTIC.items()
            ],
        }
    )
    loaded = schemathesis.openapi.from_asgi("/openapi.json", asgi_app(service), config=config)
    try:
        yield loaded
    finally:
        shutdown_lifespans()


schema = schemathesis.pytest.from_fixture("api")


@pytest.fixture(autouse=True)
def _node_id(request: pytest.FixtureRequest) -> None:
    # schemathesis's lazy loader renames the test node per operation through
    # ``_nodeid``, which pytest 9.2 no longer has: give it one to read.
    request.node._nodeid = request.node.nodeid


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_openapi_document_says(case: Case) -> None:  # type: ignore[type-arg]
    case.call_and_validate()


def test_sequences_of_calls_answer_as_the_document_says(api: Any) -> None:
    # The stateful phase: calls chained through the links schemathesis infers
    # (a profile put, then read; a device put, then read), every check on each answer.
    machine = api.as_state_machine()
    machine.run(
        settings=settings(
            max_examples=SEQUENCES,
            derandomize=True,
            deadline=None,
            database=None,
            stateful_step_count=6,
            suppress_health_check=list(HealthCheck),
        )
    )
