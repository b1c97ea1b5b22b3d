"""What the API shows to whom (issue 11, item 12): cross-origin access only to the
device routes, readiness details only with an API key, and metrics and docs behind
a key when configured so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient

from tests.integration.pipeline_support import API_KEY, running, settings_for

ORIGIN = "https://shop.example.com"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
NO_KEY = {"Authorization": ""}


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Any]:
    opened: list[Any] = []

    def make(**settings: Any) -> tuple[TestClient, Any]:
        context = running(settings_for(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, **settings))
        opened.append(context)
        return context.__enter__()

    yield make
    for context in reversed(opened):
        context.__exit__(None, None, None)


def test_cross_origin_requests_reach_only_the_device_routes(make_client: Any) -> None:
    client, _ = make_client(device_token_secrets={"default": "d" * 32})
    device = client.options("/v1/inapp/alerts", headers=PREFLIGHT)
    assert device.status_code == 200
    assert device.headers["access-control-allow-origin"] in ("*", ORIGIN)
    for path in ("/v1/events", "/v1/profiles/p", "/v1/messages", "/metrics", "/readyz"):
        preflight = client.options(path, headers=PREFLIGHT)
        assert "access-control-allow-origin" not in preflight.headers, path
        simple = client.get(path, headers={"Origin": ORIGIN})
        assert "access-control-allow-origin" not in simple.headers, path


def test_cors_origins_are_configurable(make_client: Any) -> None:
    client, _ = make_client(cors_origins=[ORIGIN], device_token_secrets={"default": "d" * 32})
    allowed = client.options("/v1/inapp/feedback", headers={**PREFLIGHT, "Origin": ORIGIN})
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    other = client.options("/v1/inapp/feedback", headers={**PREFLIGHT, "Origin": "https://x.test"})
    assert "access-control-allow-origin" not in other.headers


def test_readiness_says_why_only_to_a_key_holder(make_client: Any) -> None:
    client, service = make_client()
    assert client.get("/readyz", headers=NO_KEY).json() == {"status": "ready"}
    assert "messages_in_catalog" in client.get("/readyz").json()

    def down() -> None:
        raise sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("host db-7 refused"))

    service.store.ping = down
    anonymous = client.get("/readyz", headers=NO_KEY)
    assert anonymous.status_code == 503 and anonymous.headers["Retry-After"]
    assert anonymous.json() == {"status": "unavailable"}
    detailed = client.get("/readyz")
    assert detailed.status_code == 503 and "db-7" in detailed.json()["database"]


def test_metrics_and_docs_are_open_by_default(make_client: Any) -> None:
    client, _ = make_client()
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
        assert client.get(path, headers=NO_KEY).status_code == 200, path


def test_metrics_and_docs_can_require_a_key(make_client: Any) -> None:
    client, _ = make_client(metrics_require_key=True, docs_require_key=True)
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
        refused = client.get(path, headers=NO_KEY)
        assert refused.status_code == 401, path
        assert refused.json()["error"] == "unauthorized"
        assert client.get(path, headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
    assert "/v1/events:batch" in client.get("/openapi.json").json()["paths"]
