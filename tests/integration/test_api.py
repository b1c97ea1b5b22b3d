"""The HTTP API's contract: auth, validation errors naming each field, reads, ops endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clarion.catalog import load_catalog
from clarion.service import Service
from tests.integration.pipeline_support import (
    AUTH,
    EXAMPLE_CATALOG,
    FakeClock,
    running,
    settings_for,
    when_idle,
)


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Service]]:
    # On both stores: the answers (duplicates, reads, 404s) come from the store's queries.
    with running(settings_for(db_url, tmp_path, run_workers=False)) as pair:
        yield pair


@pytest.fixture
def client(app: tuple[TestClient, Service]) -> TestClient:
    return app[0]


def _fields(response_json: dict[str, object]) -> dict[str, str]:
    fields = response_json["fields"]
    assert isinstance(fields, list)
    return {f["field"]: f["problem"] for f in fields}


def test_every_v1_endpoint_requires_an_api_key(client: TestClient) -> None:
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic x"},
    ):
        response = client.get("/v1/profiles/x", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/healthz", headers={"Authorization": ""}).status_code == 200


def test_invalid_events_name_each_bad_field(client: TestClient) -> None:
    response = client.post("/v1/events", json={"type": "Bad Type!", "payload": [], "extra": 1})
    assert response.status_code == 422
    fields = _fields(response.json())
    assert set(fields) == {"type", "profile_id", "payload", "extra"}
    batch = client.post(
        "/v1/events:batch",
        json={"events": [{"type": "ok.event", "profile_id": "p"}, {"profile_id": "p"}]},
    )
    assert batch.status_code == 422 and set(_fields(batch.json())) == {"events[1].type"}
    assert client.post("/v1/events:batch", json={"events": []}).status_code == 422
    naive = client.post(
        "/v1/events", json={"type": "a.b", "profile_id": "p", "occurred_at": "2026-01-01T10:00:00"}
    )
    assert set(_fields(naive.json())) == {"occurred_at"}


def test_malformed_json_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/v1/events", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"] == "malformed_json"


def test_id_and_idempotency_key_must_agree(client: TestClient) -> None:
    response = client.post(
        "/v1/events",
        json={"id": "a", "type": "x.y", "profile_id": "p"},
        headers={"Idempotency-Key": "b"},
    )
    assert response.status_code == 422 and set(_fields(response.json())) == {"id"}


def test_profiles_and_devices_round_trip_and_validate(client: TestClient) -> None:
    body = {
        "locale": "pt-BR",
        "timezone": "America/Sao_Paulo",
        "country": "BR",
        "email": "ana@example.com",
        "phone": "+5511912345678",
        "account_id": "acct-1",
        "attributes": {"plan": "premium", "watchlist": ["dark"]},
        "opt_outs": {"channels": ["sms"], "categories": ["marketing"]},
    }
    put = client.put("/v1/profiles/ana", json=body)
    assert put.status_code == 200
    device = {"platform": "ios", "app_version": "16.2.0", "locale": "pt-BR", "push_token": "t"}
    assert client.put("/v1/profiles/ana/devices/iphone", json=device).status_code == 200
    got = client.get("/v1/profiles/ana").json()
    assert {k: got[k] for k in body} == body
    assert got["devices"] == [{**device, "id": "iphone"}]
    assert client.get("/v1/profiles/ana/devices/iphone").json()["push_token"] == "t"
    # Replacing the profile keeps its devices.
    client.put("/v1/profiles/ana", json={**body, "locale": "en"})
    assert len(client.get("/v1/profiles/ana").json()["devices"]) == 1

    bad = client.put(
        "/v1/profiles/bo",
        json={"locale": "xx-NOPE", "timezone": "Mars/Base", "phone": "12345", "email": "nope"},
    )
    assert bad.status_code == 422
    assert set(_fields(bad.json())) == {"locale", "timezone", "phone", "email"}
    assert "Mars/Base" in _fields(bad.json())["timezone"]
    assert client.get("/v1/profiles/bo").status_code == 404
    orphan = client.put("/v1/profiles/nobody/devices/d", json={"platform": "web"})
    assert orphan.status_code == 404
    wrong = client.put("/v1/profiles/ana/devices/d", json={"platform": "fridge"})
    assert set(_fields(wrong.json())) == {"platform"}


def test_unknown_message_and_bad_cursor(client: TestClient) -> None:
    assert client.get("/v1/messages/NOPE").status_code == 404
    response = client.get("/v1/profiles/p/messages", params={"cursor": "garbage"})
    assert response.status_code == 400 and set(_fields(response.json())) == {"cursor"}
    assert client.get("/v1/profiles/p/messages", params={"status": "bogus"}).status_code == 422


def test_pagination_walks_every_message_once(app: tuple[TestClient, Service]) -> None:
    client, service = app
    client.put("/v1/profiles/pg", json={"email": "pg@example.com", "timezone": "UTC"})
    for i in range(7):
        client.post(
            "/v1/events", json={"id": f"s{i}", "type": "signup.started", "profile_id": "pg"}
        )
    # The first reminder is scheduled; its 1-per-30-days cap suppresses the rest on both steps.
    when_idle(service, lambda: len(client.get("/v1/profiles/pg/messages").json()["messages"]) == 13)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/profiles/pg/messages", params=params).json()
        seen += [m["guid"] for m in page["messages"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 13


def test_ops_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    count = len(load_catalog(EXAMPLE_CATALOG).spec.messages)  # one per file of catalog/messages
    assert count == len(list((EXAMPLE_CATALOG / "messages").glob("*.yaml")))
    assert ready["status"] == "ready" and ready["messages_in_catalog"] == count
    client.post("/v1/events", json={"type": "nothing.matches", "profile_id": "p"})
    metrics = client.get("/metrics").text
    assert "clarion_events_accepted_total" in metrics
    assert f"clarion_catalog_messages {count}.0" in metrics
    schema = client.get("/openapi.json").json()
    assert "/v1/events:batch" in schema["paths"]


def test_an_unavailable_store_is_a_503_not_an_acknowledgement(db_url: str, tmp_path: Path) -> None:
    import sqlalchemy.exc

    def down(*_: object) -> None:
        raise sqlalchemy.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    with running(settings_for(db_url, tmp_path)) as (c, service):
        service.store.accept_events = down  # type: ignore[method-assign, assignment]
        response = c.post("/v1/events", json={"type": "a.b", "profile_id": "p"})
        assert response.status_code == 503 and response.json()["error"] == "unavailable"
        assert response.headers["Retry-After"] == "1"


def test_the_fast_intake_path_answers_exactly_as_the_framework(client: TestClient) -> None:
    body = {"id": "same", "type": "a.b", "profile_id": "p"}
    fast = client.post("/v1/events", json=body)  # the plain case: served by FastEvents
    slow = client.post("/v1/events", json=body, headers={"Idempotency-Key": "same"})  # FastAPI
    assert fast.status_code == slow.status_code == 202
    assert slow.json() == {**fast.json(), "duplicate": True}
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    # Anything else falls through to the framework and keeps its error format.
    assert client.post("/v1/events", json={"type": "a.b"}).status_code == 422
    unauthorized = client.post("/v1/events", json=body, headers={"Authorization": "Bearer no"})
    assert unauthorized.status_code == 401


def test_an_unexpected_failure_is_a_500_in_the_one_error_shape(db_url: str, tmp_path: Path) -> None:
    from clarion.api.app import asgi_app

    def broken(*_: object) -> None:
        raise RuntimeError("refused value ana@example.com")  # a cause quoting stored data

    service = Service(settings_for(db_url, tmp_path), clock=FakeClock())
    service.store.accept_events = broken  # type: ignore[method-assign, assignment]
    with TestClient(asgi_app(service), raise_server_exceptions=False) as c:
        # Through the short path and through the route (an Idempotency-Key).
        for headers in ({}, {"Idempotency-Key": "k-1"}):
            response = c.post(
                "/v1/events", json={"type": "a.b", "profile_id": "p"}, headers={**AUTH, **headers}
            )
            assert response.status_code == 500, response.text
            assert response.json() == {
                "error": "internal",
                "message": "the server failed to handle this request",
            }
