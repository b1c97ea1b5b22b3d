"""The short path for GET /v1/inapp/alerts (``clarion.api.fast_inapp``) answers exactly
what the FastAPI route answers, on SQLite and PostgreSQL, CORS headers included."""

from __future__ import annotations

from typing import Any

import jsonschema
from fastapi.testclient import TestClient

from clarion.inapp.contract import ALERTS_RESPONSE_SCHEMA
from clarion.service import Service
from tests.integration.conftest import device_auth, seed
from tests.integration.pipeline_support import FakeClock, when_idle

#: Per render: a fresh render guid, and signatures over it.
_PER_RENDER = frozenset({"renderGuid", "signature"})


def _stable(value: Any) -> Any:
    """``value`` without what differs between two renders of the same alerts."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _PER_RENDER}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def test_the_short_path_and_the_route_answer_the_same(
    app: tuple[TestClient, Service], clock: FakeClock
) -> None:
    client, service = app
    seed(client, "ana")
    # Each event decided on its own: a second event of a batch is dated a tick after
    # a clock that stands still, and would not be due until it moved.
    service.run_until_idle()
    seed(client, "ana", "account.phone_missing", reason="r")
    headers = device_auth(clock, "ana")
    query = "platform=web&deviceId=laptop&locale=pt-BR&appVersion=2.0"

    def fetch(extra: str = "") -> Any:
        response = client.get(f"/v1/inapp/alerts?{query}{extra}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        jsonschema.validate(body, ALERTS_RESPONSE_SCHEMA)
        return body

    def both() -> Any:
        body = fetch()
        return body if len(body["alerts"]) == 2 else None

    fast = when_idle(service, both)
    # A parameter given twice (one the route ignores) sends the fetch to the route.
    routed = fetch("&utm=a&utm=b")
    assert _stable(fast) == _stable(routed)
    assert fast != routed  # each render is fresh: new render guids and signatures
    # A browser on another origin gets the CORS headers either way.
    origin = {**headers, "Origin": "https://app.example.com"}
    for extra in ("", "&utm=a&utm=b"):
        response = client.get(f"/v1/inapp/alerts?{query}{extra}", headers=origin)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"


def test_errors_keep_the_routes_shape(app: tuple[TestClient, Service], clock: FakeClock) -> None:
    client, _ = app
    headers = device_auth(clock, "ana")
    bad = client.get("/v1/inapp/alerts?platform=desktop&deviceId=d", headers=headers)
    assert bad.status_code == 422
    assert bad.json()["fields"][0]["field"] == "platform"
    unauthorized = client.get("/v1/inapp/alerts?platform=web&deviceId=d")
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"] == "unauthorized"
