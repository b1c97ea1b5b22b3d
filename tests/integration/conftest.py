"""The in-app tests' shared fixtures and helpers: the service with an in-app store,
a device secret and a feedback key, run without worker threads (tests act, run
the workers until idle, and assert), and the calls a device makes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from clarion.channels.provider_config import InAppConfig, SinkConfig
from clarion.config import Settings
from clarion.inapp import issue_device_token
from clarion.inapp.contract import ALERTS_RESPONSE_SCHEMA, NOTIFICATIONS_RESPONSE_SCHEMA
from clarion.service import Service
from tests.integration.pipeline_support import EXAMPLE_CATALOG, FakeClock, running, settings_for

DEVICE_SECRET = b"d" * 32
PAYMENT = {"amount": 15.49, "currency": "USD", "show_title": "Dark"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[tuple[TestClient, Service]]:
    """The in-app service (``inapp_settings``) on SQLite and PostgreSQL."""
    with running(inapp_settings(db_url, tmp_path), clock=clock) as pair:
        yield pair


def inapp_settings(
    db_url: str, tmp_path: Path, catalog: Path = EXAMPLE_CATALOG, **kw: Any
) -> Settings:
    """Settings with the in-app store, a device secret and a feedback key, and no
    worker threads: ``Service.run_until_idle`` runs the workers."""
    values: dict[str, Any] = {
        "catalog": catalog,
        "providers": {"sink": SinkConfig(path=tmp_path / "sink.jsonl"), "inapp": InAppConfig()},
        "device_token_secrets": {"default": DEVICE_SECRET.decode()},
        "feedback_keys": {"k1": "f" * 32},
        "run_workers": False,
    }
    values.update(kw)
    return settings_for(db_url, tmp_path, **values)


def device_auth(clock: FakeClock, profile_id: str) -> dict[str, str]:
    """The headers of a device of ``profile_id``, with a token valid for an hour."""
    token = issue_device_token(DEVICE_SECRET, profile_id, timedelta(hours=1), now=clock())
    return {"Authorization": f"Bearer {token}"}


def fetch_alerts(
    client: TestClient, headers: dict[str, str], **params: str
) -> list[dict[str, Any]]:
    """The alerts a web device (``laptop``, English unless ``params`` say) is shown."""
    query = {"platform": "web", "deviceId": "laptop", "locale": "en", **params}
    response = client.get("/v1/inapp/alerts", params=query, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    jsonschema.validate(body, ALERTS_RESPONSE_SCHEMA)
    alerts: list[dict[str, Any]] = body["alerts"]
    return alerts


def fetch_center(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    """A web device's notification center."""
    query = {"platform": "web", "deviceId": "laptop", **params}
    response = client.get("/v1/inapp/notifications", params=query, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    jsonschema.validate(body, NOTIFICATIONS_RESPONSE_SCHEMA)
    return body


def seed(
    client: TestClient, profile_id: str, event_type: str = "payment.failed", **payload: Any
) -> None:
    """A profile (Brazilian Portuguese, UTC, with an email) and one event for it."""
    body = {"email": f"{profile_id}@example.com", "timezone": "UTC", "locale": "pt-BR"}
    assert client.put(f"/v1/profiles/{profile_id}", json=body).status_code == 200
    event = {"type": event_type, "profile_id": profile_id, "payload": payload or PAYMENT}
    assert client.post("/v1/events", json=event).status_code == 202


def post_feedback(
    client: TestClient, headers: dict[str, str], feedback: object, device: str = "laptop"
) -> Any:
    """A web device's post of a feedback object."""
    context = {"platform": "web", "deviceId": device, "appVersion": "1.0"}
    return client.post(
        "/v1/inapp/feedback", json={"feedback": feedback, "context": context}, headers=headers
    )
