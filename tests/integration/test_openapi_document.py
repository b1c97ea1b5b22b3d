"""The OpenAPI document: security schemes, one error model, and 405s that say what is allowed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.pipeline_support import running, settings_for

ERROR = "#/components/schemas/ErrorBody"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    # The document and the router's 405s do not depend on the store: SQLite only.
    with running(settings_for(f"sqlite:///{tmp_path / 'c.db'}", tmp_path, run_workers=False)) as (
        c,
        _,
    ):
        yield c


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _schema_ref(response: dict[str, Any]) -> str:
    ref: str = response["content"]["application/json"]["schema"]["$ref"]
    return ref


def test_every_route_declares_who_must_authenticate(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "http", "scheme": "bearer"}
    assert schemes["DeviceToken"]["scheme"] == "bearer"
    for path, method, operation in _operations(document):
        if path.startswith("/v1/inapp/"):
            expected: list[dict[str, list[str]]] | None = [{"DeviceToken": []}]
        elif path.startswith(("/v1/t/", "/v1/providers/")):
            expected = None
        else:
            expected = [{"ApiKey": []}]
        assert operation.get("security") == expected, (method, path)
        if expected:
            assert _schema_ref(operation["responses"]["401"]) == ERROR, (method, path)


def test_every_error_response_is_the_one_error_body(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorBody"]["required"]) == {"error", "message"}
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        errors = {status for status in responses if status.startswith(("4", "5"))}
        # Any request may be refused with 422 (a NUL in its path or query: clarion.api.guard).
        assert "422" in errors, (method, path)
        for status in errors:
            assert _schema_ref(responses[status]) == ERROR, (method, path, status)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= errors, (method, path)


def test_a_real_422_validates_against_the_documented_body(client: TestClient) -> None:
    import jsonschema

    document = client.get("/openapi.json").json()
    schema = {**document["components"]["schemas"]["ErrorBody"], "$defs": {}}
    schema["properties"]["fields"] = {
        "anyOf": [
            {"type": "array", "items": document["components"]["schemas"]["ErrorField"]},
            {"type": "null"},
        ]
    }
    response = client.post("/v1/events", json={"type": "Bad!", "profile_id": "p"})
    assert response.status_code == 422
    jsonschema.validate(response.json(), schema)
    assert response.json()["fields"][0]["field"] == "type"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/v1/profiles/p1", "GET, PUT"),
        ("DELETE", "/v1/profiles/p1/devices/d1", "GET, PUT"),
        ("PATCH", "/v1/events", "POST"),
        ("GET", "/v1/inapp/feedback", "POST"),
        # Not in the document: the router's own Allow stands.
        ("POST", "/healthz", "GET"),
    ],
)
def test_a_405_allows_every_method_of_its_path(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allowed
    assert response.json()["error"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        (
            "POST",
            "/v1/events",
            {"json": {"type": "a.b", "profile_id": "p", "occurred_at": 0}},
            "occurred_at",
        ),
        (
            "POST",
            "/v1/events:batch",
            {"json": {"events": [{"type": "a.b", "profile_id": "p", "occurred_at": 1.7e9}]}},
            "events[0].occurred_at",
        ),
        ("GET", "/v1/profiles/p/messages", {"params": {"until": "0.5"}}, "until"),
        ("GET", "/v1/insights/delivery", {"params": {"until": "1772449200"}}, "until"),
        ("GET", "/v1/reports/incrementality", {"params": {"until": "12"}}, "until"),
    ],
)
def test_a_time_is_a_date_time_string_as_documented_not_a_number(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any], field: str
) -> None:
    # Found by schemathesis: pydantic also takes a number (or a numeric string) as
    # seconds since 1970, where the document says an RFC 3339 date-time.
    response = client.request(method, path, **kwargs)
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["fields"]] == [field]
