"""Driving many messages through a running Clarion and reading back what happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from clarion.service import Service
from clarion.store.schema import lifecycle, messages
from tests.integration.crash_support import put_profiles
from tests.integration.pipeline_support import wait_for

PAYMENT = {"amount": 15.49, "currency": "USD", "show_title": "Dark"}
ALL_CHANNELS = ("inapp", "push", "email", "sms", "voice", "webhook")


def add_profiles(client: TestClient, count: int) -> list[str]:
    """Profiles with every address, so payment.failed makes four messages each time."""
    return put_profiles(client, [f"p{i}" for i in range(count)])


def send_events(client: TestClient, profiles: list[str], count: int, tag: str = "e") -> None:
    events = [
        {
            "id": f"{tag}-{i}",
            "type": "payment.failed",
            "profile_id": profiles[i % len(profiles)],
            "payload": PAYMENT,
        }
        for i in range(count)
    ]
    for start in range(0, count, 500):
        answer = client.post("/v1/events:batch", json={"events": events[start : start + 500]})
        assert answer.status_code == 202, answer.text


def wait_settled(service: Service, expected: int, timeout: float = 60.0) -> None:
    """Until ``expected`` messages exist and none is scheduled or sending."""

    def settled() -> bool:
        counts = service.store.counts_by_status()
        open_ = counts.get("scheduled", 0) + counts.get("sending", 0)
        return sum(counts.values()) == expected and open_ == 0

    wait_for(settled, timeout)


@dataclass
class Entry:
    at: float
    status: str
    reason: str | None
    detail: dict[str, Any]


@dataclass
class Stored:
    """Every message (guid -> status, attempts) and its lifecycle, in order."""

    status: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    timelines: dict[str, list[Entry]] = field(default_factory=dict)

    def entries(self, guid: str, reason: str | None = None) -> list[Entry]:
        return [
            e
            for e in self.timelines.get(guid, [])
            if reason is None or (e.reason or "").startswith(reason)
        ]


def load(service: Service) -> Stored:
    stored = Stored()
    with service.store.engine.connect() as conn:
        for row in conn.execute(sa.select(messages.c.guid, messages.c.status, messages.c.attempts)):
            stored.status[row.guid] = row.status
            stored.attempts[row.guid] = row.attempts
        c = lifecycle.c
        query = sa.select(c.guid, c.at, c.status, c.reason, c.detail).order_by(c.id)
        for line in conn.execute(query):
            entry = Entry(line.at, line.status, line.reason, dict(line.detail or {}))
            stored.timelines.setdefault(line.guid, []).append(entry)
    return stored


def retries(entries: list[Entry]) -> list[tuple[float, float]]:
    """For each retry verdict: the backoff it chose (seconds) and how long after the
    time it set the next claim came (negative: claimed too early)."""
    found = []
    for i, e in enumerate(entries):
        if e.status == "scheduled" and (e.reason or "").startswith("retrying:"):
            retry_at = datetime.fromisoformat(str(e.detail["retry_at"])).timestamp()
            claim = next(x for x in entries[i + 1 :] if x.status == "sending")
            found.append((float(e.detail["retry_in"]), claim.at - retry_at))
    return found
