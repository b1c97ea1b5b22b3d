"""No personal datum or push token reaches a log on any error path we can provoke
(issue 11, item 6): a database error in intake (an event, a profile), in the
orchestrator, in dispatch, and in a provider that meets a dead push token.

Each error is a real database error, raised by a trigger installed for the
step; SQLAlchemy puts a failing statement's parameters into the exception's
text, which reached the logs until the engines hid them.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog

from clarion.channels.base import Provider
from clarion.channels.push import PushProvider
from clarion.channels.push_message import Notification, TokenRejected
from clarion.channels.sink import SinkProvider
from clarion.observability import configure_logging
from clarion.runtime.clock import system_clock
from tests.integration.pipeline_support import running, settings_for, wait_for

EMAIL = "ana.private@example.com"
PHONE = "+15550109876"
TOKEN = "tok-0123456789abcdef-private"
PAYLOAD_VALUE = "card-holder-Ana-Private-4242"
SECRETS = (EMAIL, PHONE, TOKEN, PAYLOAD_VALUE)


class DeadTokens:
    """A push service that reports every token dead (as APNs answers 410)."""

    service = "apns"
    idempotent = True

    async def push(self, note: Notification, token: str) -> str | None:
        raise TokenRejected("Unregistered")

    async def aclose(self) -> None:
        return None


class Faults:
    """Installs and removes a trigger that fails every write of a table."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.NullPool)
        self.postgres = self.engine.dialect.name == "postgresql"
        self.installed: dict[str, str] = {}
        if self.postgres:
            with self.engine.begin() as conn:
                # query_canceled: an OperationalError, the class the API answers with 503.
                conn.exec_driver_sql(
                    "CREATE OR REPLACE FUNCTION clarion_injected_fault() RETURNS trigger "
                    "AS $$ BEGIN RAISE EXCEPTION 'injected fault' USING ERRCODE = "
                    "'query_canceled'; END $$ LANGUAGE plpgsql"
                )

    def fail(self, table: str, op: str = "INSERT") -> str:
        """Fail every ``op`` on ``table`` from now on; returns the trigger's name."""
        name = f"fail_{table}_{op.lower()}"
        with self.engine.begin() as conn:
            if self.postgres:
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {name} BEFORE {op} ON {table} FOR EACH ROW "
                    "EXECUTE FUNCTION clarion_injected_fault()"
                )
            else:  # a function failing as it runs: an OperationalError on SQLite
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {name} BEFORE {op} ON {table} "
                    "BEGIN SELECT json('injected fault'); END"
                )
        self.installed[name] = f"{name} ON {table}" if self.postgres else name
        return name

    def clear(self, *names: str) -> None:
        """Remove the named triggers (all of them by default)."""
        with self.engine.begin() as conn:
            for name in names or list(self.installed):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {self.installed.pop(name)}")

    def close(self) -> None:
        self.clear()
        if self.postgres:
            with self.engine.begin() as conn:
                conn.exec_driver_sql("DROP FUNCTION IF EXISTS clarion_injected_fault()")
        self.engine.dispose()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything logged, as production renders it (structlog JSON lines), plus
    anything that goes through the standard library's logging."""
    buffer = io.StringIO()
    configure_logging("DEBUG", json=True, file=buffer)
    # Loggers cached on first use would keep writing to this buffer in later tests,
    # and loggers another test cached would never write here.
    structlog.configure(cache_logger_on_first_use=False)
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        structlog.reset_defaults()


def test_no_personal_datum_or_token_reaches_the_logs(
    db_url: str, tmp_path: Path, logs: io.StringIO
) -> None:
    push = PushProvider({"apns": DeadTokens()})
    settings = settings_for(
        db_url,
        tmp_path,
        routes={"push": "push"},
        event_lease_seconds=0.5,
        message_lease_seconds=0.5,
    )
    event = {"type": "payment.failed", "profile_id": "ana", "payload": {
        "amount": 15.49, "currency": "USD", "show_title": "Stranger Things",
        "card_holder": PAYLOAD_VALUE,
    }}  # fmt: skip
    profile = {"locale": "en", "timezone": "UTC", "email": EMAIL, "phone": PHONE}
    providers: dict[str, Provider] = {"push": push, "sink": SinkProvider(tmp_path / "sink.jsonl")}
    with running(settings, clock=system_clock, providers=providers) as (client, service):
        push.tokens = service.store
        faults = Faults(settings.database_url)
        try:
            # Intake: a profile and an event the database refuses.
            faults.fail("profiles")
            assert client.put("/v1/profiles/ana", json=profile).status_code == 503
            faults.clear()
            assert client.put("/v1/profiles/ana", json=profile).status_code == 200
            device = {"platform": "ios", "push_token": TOKEN}
            assert client.put("/v1/profiles/ana/devices/phone", json=device).status_code == 200
            faults.fail("events")
            assert client.post("/v1/events", json={**event, "id": "e0"}).status_code == 503
            faults.clear()

            # The orchestrator fails to store its decisions; then the dispatcher fails
            # to claim them; then removing the dead token the provider met fails.
            deciding = faults.fail("messages")
            claiming = faults.fail("messages", "UPDATE")
            faults.fail("devices", "UPDATE")
            assert client.post("/v1/events", json={**event, "id": "e1"}).status_code == 202
            wait_for(lambda: '"worker": "orchestrator"' in logs.getvalue())
            faults.clear(deciding)
            wait_for(lambda: '"worker": "dispatcher"' in logs.getvalue())
            faults.clear(claiming)
            wait_for(lambda: "provider_crashed" in logs.getvalue())
            faults.clear()
        finally:
            faults.close()

    text = logs.getvalue()
    assert "store_unavailable" in text  # the capture saw the errors it checks
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{leaked} in the logs:\n{text[:4000]}"
