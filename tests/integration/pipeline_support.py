"""Running a whole Clarion in-process for tests: a controllable clock, scripted
providers, and helpers that run the workers until idle (``when_idle``) or, for tests
of the worker threads themselves, wait for them (``wait_for``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from clarion.api.app import asgi_app
from clarion.channels.base import Outgoing, Provider, Receipt
from clarion.channels.provider_config import SinkConfig
from clarion.config import Settings
from clarion.core.model import Channel
from clarion.service import Service

EXAMPLE_CATALOG = Path(__file__).parents[2] / "catalog"
API_KEY = "test-key"
T = TypeVar("T")
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class FakeClock:
    """A clock the test moves by hand; thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday noon
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


@dataclass
class ScriptedProvider:
    """A provider whose answer to each call is decided by a test function."""

    script: Callable[[Outgoing], Receipt]
    name: str = "scripted"
    idempotent: bool = True
    channels: frozenset[Channel] = frozenset(Channel)
    calls: list[Outgoing] = field(default_factory=list)

    async def send(self, message: Outgoing) -> Receipt:
        self.calls.append(message)
        return self.script(message)

    async def aclose(self) -> None:
        return None


def settings_for(
    db_url: str, tmp_path: Path, catalog: Path = EXAMPLE_CATALOG, **kw: Any
) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "catalog": catalog,
        "api_keys": API_KEY,
        "providers": {"sink": SinkConfig(path=tmp_path / "sink.jsonl")},
        "poll_interval_seconds": 0.01,
        "retry_base_seconds": 0.01,
        "retry_cap_seconds": 0.05,
        "log_json": True,
    }
    values.update(kw)
    return Settings(**values)


@contextmanager
def running(
    settings: Settings,
    clock: Callable[[], datetime] | None = None,
    providers: dict[str, Provider] | None = None,
) -> Iterator[tuple[TestClient, Service]]:
    service = Service(settings, clock=clock or FakeClock(), providers=providers)
    with TestClient(asgi_app(service)) as client:
        client.headers.update(AUTH)
        yield client, service


def when_idle(service: Service, check: Callable[[], T | None]) -> T:
    """Run the workers until nothing is left to do (``Service.run_until_idle``), then
    ``check()``, which must hold; its value. For a service without worker threads."""
    service.run_until_idle()
    value = check()
    assert value, f"{check} does not hold once the workers are idle"
    return value


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll until ``check()`` is truthy; return its value. The timeout is generous
    because a loaded 2-core machine can stall the worker threads for seconds; a
    passing check returns as soon as it holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {check}")
        time.sleep(0.02)
