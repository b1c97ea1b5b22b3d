"""GET /v1/events/{id} explains what an event caused or why not; list endpoints
refuse unknown query filters; an unknown profile's messages are a 404. On SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clarion.service import Service
from tests.integration.pipeline_support import running, settings_for, when_idle


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Service]]:
    """The service without worker threads (``_done`` runs them until idle), and Ana."""
    with running(settings_for(db_url, tmp_path, run_workers=False)) as (c, service):
        c.put("/v1/profiles/ana", json={"locale": "en", "email": "ana@example.com"})
        yield c, service


@pytest.fixture
def client(app: tuple[TestClient, Service]) -> TestClient:
    return app[0]


def _send(client: TestClient, event_id: str, etype: str, payload: dict[str, object]) -> None:
    body = {"id": event_id, "type": etype, "profile_id": "ana", "payload": payload}
    assert client.post("/v1/events", json=body).status_code == 202


def _done(app: tuple[TestClient, Service], event_id: str) -> dict[str, Any]:
    """The event's trace, once the workers are idle; it must have been processed."""
    client, service = app

    def check() -> dict[str, Any] | None:
        response = client.get(f"/v1/events/{event_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["processed"] else None

    return when_idle(service, check)


def test_an_event_lists_what_it_caused(app: tuple[TestClient, Service]) -> None:
    client, _ = app
    _send(
        client, "e-ok", "payment.failed", {"amount": 15.99, "currency": "USD", "show_title": "Dark"}
    )

    body = _done(app, "e-ok")

    assert body["event"]["id"] == "e-ok" and body["event"]["type"] == "payment.failed"
    assert body["state"] == "done" and body["processed_at"] is not None
    assert body["no_message_for_type"] is False
    [entry] = body["messages"]
    assert (entry["message"], entry["outcome"]) == ("payment_failed", "caused")
    channels = {m["channel"]: m for m in entry["caused"]}
    assert channels["email"]["status"] != "suppressed"
    assert channels["sms"]["status"] == "suppressed"
    assert channels["sms"]["reason"] == "no_address"
    assert all(m["guid"] for m in entry["caused"])


def test_a_false_condition_says_the_field_the_operator_and_the_value(
    app: tuple[TestClient, Service],
) -> None:
    client, _ = app
    _send(client, "e-text", "payment.failed", {"amount": "9.99"})

    body = _done(app, "e-text")

    [entry] = body["messages"]
    assert entry["message"] == "payment_failed"
    assert entry["outcome"] == "condition_false"
    assert entry["caused"] == []
    assert entry["condition"] == {
        "field": "amount",
        "operator": "gt",
        "expected": 0,
        "value": "9.99",
        "present": True,
        "type_mismatch": True,
        "alternatives": [],
    }
    assert body["explained_with"] == "current_catalog"


def test_a_missing_field_is_reported_as_absent(app: tuple[TestClient, Service]) -> None:
    client, _ = app
    _send(client, "e-none", "payment.failed", {})

    [entry] = _done(app, "e-none")["messages"]

    assert entry["condition"]["present"] is False
    assert entry["condition"]["value"] is None
    assert entry["condition"]["type_mismatch"] is False


def test_an_event_type_without_a_message_says_so(app: tuple[TestClient, Service]) -> None:
    client, _ = app
    _send(client, "e-typo", "paymnet.failed", {"amount": 15.99})

    body = _done(app, "e-typo")

    assert body["no_message_for_type"] is True
    assert body["messages"] == []


def test_an_unknown_event_is_a_404(client: TestClient) -> None:
    response = client.get("/v1/events/nope")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_unknown_query_filters_are_refused_naming_the_parameter(
    app: tuple[TestClient, Service],
) -> None:
    client, _ = app
    _send(
        client, "e-ok", "payment.failed", {"amount": 15.99, "currency": "USD", "show_title": "Dark"}
    )
    _done(app, "e-ok")
    for path in (
        "/v1/profiles/ana/messages?reason=no_address",
        "/v1/insights/delivery?reason=x",
        "/v1/reports/incrementality?reason=x",
        "/v1/events/e-ok?verbose=1",
    ):
        response = client.get(path)
        assert response.status_code == 422, (path, response.text)
        body = response.json()
        assert body["error"] == "invalid_request"
        problem = {f["field"]: f["problem"] for f in body["fields"]}
        assert list(problem) == [path.split("?")[1].split("=")[0]], body
    # Known filters still work.
    assert client.get("/v1/profiles/ana/messages?channel=sms&limit=5").status_code == 200


def test_an_unknown_profiles_messages_are_a_404(client: TestClient) -> None:
    response = client.get("/v1/profiles/nobody/messages")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    # A known profile with no message matching the filters is an empty page.
    empty = client.get("/v1/profiles/ana/messages?channel=voice")
    assert empty.status_code == 200 and empty.json()["messages"] == []


def test_an_account_event_lists_the_messages_of_every_profile_it_reached(
    app: tuple[TestClient, Service],
) -> None:
    client, _ = app
    for pid, watchlist in (("kid", ["dark"]), ("parent", []), ("other", ["dark"])):
        account = "acct-9" if pid != "other" else "acct-0"
        body = {"account_id": account, "attributes": {"watchlist": watchlist}}
        assert client.put(f"/v1/profiles/{pid}", json=body).status_code == 200
    event = {
        "id": "e-season",
        "type": "season.released",
        "profile_id": "parent",
        "account_id": "acct-9",
        "payload": {"show_id": "dark", "show_title": "Dark", "season": 3},
    }
    assert client.post("/v1/events", json=event).status_code == 202

    [entry] = _done(app, "e-season")["messages"]

    assert entry["outcome"] == "caused"
    reached = {m["profile_id"]: m["reason"] for m in entry["caused"]}
    assert reached == {"kid": "no_eligible_device", "parent": "not_in_segment"}
