"""Unstorable input is refused at intake, naming its field, on both stores (issue 11, item 2).

Python's JSON parser accepts what the stores cannot hold (integers beyond 64
bits, deep nesting, lone surrogates, NaN, NUL characters): each used to be a 500
for its request and, through the shared group commit, for its neighbours.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clarion.core.model import Event
from clarion.runtime.intake import Intake
from clarion.store import SqlStore
from tests.integration.pipeline_support import FakeClock, running, settings_for

NESTED = "[" * 300 + "]" * 300
#: Raw JSON payload values no store can hold, by kind.
UNSTORABLE = {
    "int_2_64": "18446744073709551616",
    "nested_300": NESTED,
    "lone_surrogate": '"\\ud800"',
    "nul": '"a\\u0000b"',
    "nan": "NaN",
}


@pytest.fixture
def client(db_url: str, tmp_path: Path) -> Any:
    with running(settings_for(db_url, tmp_path)) as (c, _):
        yield c


def _post(client: TestClient, path: str, raw: str, **headers: str) -> Any:
    headers = {"Content-Type": "application/json", **headers}
    return client.post(path, content=raw.encode(), headers=headers)


def _fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [f["field"] for f in response.json()["fields"]]


@pytest.mark.parametrize("kind", sorted(UNSTORABLE))
def test_an_unstorable_payload_is_a_422_naming_it(client: TestClient, kind: str) -> None:
    value = UNSTORABLE[kind]
    event = f'{{"type": "a.b", "profile_id": "p", "payload": {{"x": {value}}}}}'
    assert _fields(_post(client, "/v1/events", event)) == ["payload"]  # the short path
    assert _fields(_post(client, "/v1/events", event, **{"Idempotency-Key": "k"})) == ["payload"]
    batch = f'{{"events": [{{"type": "a.b", "profile_id": "p"}}, {event}]}}'
    assert _fields(_post(client, "/v1/events:batch", batch)) == ["events[1].payload"]
    profile = f'{{"attributes": {{"x": {value}}}}}'
    r = client.put("/v1/profiles/p", content=profile, headers={"Content-Type": "application/json"})
    assert _fields(r) == ["attributes"]
    # Nothing was stored, and the service goes on.
    assert client.post("/v1/events", json={"type": "a.b", "profile_id": "p"}).status_code == 202


def test_nul_in_a_string_field_is_a_422(client: TestClient) -> None:
    body = {"email": "a\u0000@example.com", "opt_outs": {"categories": ["x\u0000"]}}
    response = client.put("/v1/profiles/p", json=body)
    assert sorted(_fields(response)) == ["email", "opt_outs.categories"]
    device = {"platform": "ios", "push_token": "t\u0000"}
    client.put("/v1/profiles/p", json={})
    assert _fields(client.put("/v1/profiles/p/devices/d", json=device)) == ["push_token"]


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/v1/profiles/a%00b", "profile_id"),
        ("PUT", "/v1/profiles/a%00b", "profile_id"),
        ("GET", "/v1/profiles/a%00b/devices/d", "profile_id"),
        ("PUT", "/v1/profiles/a%00b/devices/d", "profile_id"),
        ("PUT", "/v1/profiles/a/devices/d%00", "device_id"),
        ("GET", "/v1/profiles/a%00b/messages", "profile_id"),
        ("GET", "/v1/profiles/a/messages?message=x%00", "message"),
        ("GET", "/v1/messages/g%00", "guid"),
        ("GET", "/v1/insights/delivery?message=m%00", "message"),
        ("GET", "/v1/reports/incrementality?message=m%00", "message"),
        ("POST", "/v1/inapp/notifications/g%00/read", "guid"),
        ("POST", "/v1/inapp/notifications/g%00/archive", "guid"),
        ("GET", "/v1/inapp/alerts?platform=web&deviceId=d%00", "deviceId"),
        ("GET", "/v1/t/c/x%00y", "token"),
    ],
)
def test_nul_in_a_path_or_query_is_a_422_naming_it(
    client: TestClient, method: str, path: str, field: str
) -> None:
    json = {"platform": "ios"} if "devices" in path else {} if method == "PUT" else None
    response = client.request(method, path, json=json)
    assert _fields(response) == [field], response.text


def test_a_group_commit_that_fails_is_retried_without_the_request_that_broke_it(
    store: SqlStore,
) -> None:
    clock = FakeClock()
    good = [Event(f"g{i}", "a.b", "p", clock(), {"n": i}) for i in range(6)]
    # Past the API's validation: the store cannot serialize this payload.
    bad = Event("bad", "a.b", "p", clock(), {"n": 2**64})

    async def submit_together() -> list[Any]:
        intake = Intake(store, clock)
        await intake.start()
        try:
            requests = [[good[0]], [good[1], good[2]], [bad], [good[3]], [good[4], good[5]]]
            # Queued before the intake task runs: one group commit for all five.
            return await asyncio.gather(
                *(intake.submit(r) for r in requests), return_exceptions=True
            )
        finally:
            await intake.stop()

    answers = asyncio.run(submit_together())
    assert isinstance(answers[2], Exception)
    accepted = [a for i, answer in enumerate(answers) if i != 2 for a in answer]
    assert [a.event_id for a in accepted] == [e.id for e in good]
    assert not any(a.duplicate for a in accepted)
    assert all(store.event_record(e.id) is not None for e in good)
    assert store.event_record("bad") is None
