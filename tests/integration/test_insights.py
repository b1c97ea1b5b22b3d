"""Delivery insights on SQLite and PostgreSQL: counts per bucket and group, computed by
the database, and the endpoint's checks of its parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clarion.core.model import Channel, Status
from clarion.store import SqlStore
from clarion.store.records import DeliveryQuery
from clarion.store.schema import messages
from clarion.store.sql.convert import ts
from tests.integration.pipeline_support import FakeClock, running, settings_for

DAY = datetime(2026, 3, 2, tzinfo=UTC)

# (created at, channel, provider, country, status, reason)
SEEDED = [
    (DAY + timedelta(hours=10, minutes=15), "sms", "twilio", "BR", "delivered", None),
    (
        DAY + timedelta(hours=10, minutes=40),
        "sms",
        "twilio",
        "BR",
        "failed",
        "provider_rejected:twilio:30003",
    ),
    (
        DAY + timedelta(hours=10, minutes=50),
        "sms",
        "twilio",
        "US",
        "failed",
        "dead_lettered:http_503",
    ),
    (DAY + timedelta(hours=11, minutes=5), "push", "apns", "BR", "sent", None),
    (
        DAY + timedelta(hours=11, minutes=10),
        "email",
        None,
        None,
        "suppressed",
        "frequency_capped:global:6/1d",
    ),
    (
        DAY + timedelta(days=1, hours=9),
        "sms",
        "twilio",
        "BR",
        "failed",
        "provider_rejected:twilio:30003",
    ),
    (DAY - timedelta(seconds=1), "sms", "twilio", "BR", "delivered", None),  # before the range
]


def seed(store: SqlStore) -> None:
    rows: list[dict[str, Any]] = []
    for i, (at, channel, provider, country, status, reason) in enumerate(SEEDED):
        rows.append(
            {
                "guid": f"G{i:039d}",
                "event_id": f"e{i}",
                "profile_id": "ana",
                "message": "payment_failed" if channel != "email" else "new_season",
                "message_id": 1,
                "category": "account",
                "channel": channel,
                "step": 0,
                "status": status,
                "reason": reason,
                "created_at": ts(at),
                "updated_at": ts(at),
                "attempts": 1,
                "devices": [],
                "cancel_on": [],
                "provider": provider,
                "country": country,
            }
        )
    with store.engine.begin() as conn:
        conn.execute(messages.insert(), rows)


def counts(store: SqlStore, bucket: int = 3600, **kw: Any) -> list[tuple[Any, ...]]:
    query = DeliveryQuery(DAY, DAY + timedelta(days=2), bucket, **kw)
    return [(c.start, *c.group, c.count) for c in store.delivery_counts(query)]


def test_counts_per_hour_by_channel_and_status(store: SqlStore) -> None:
    seed(store)

    def h(n: int) -> datetime:
        return DAY + timedelta(hours=n)

    assert counts(store) == [
        (h(10), "sms", "delivered", 1),
        (h(10), "sms", "failed", 2),
        (h(11), "email", "suppressed", 1),
        (h(11), "push", "sent", 1),
        (h(33), "sms", "failed", 1),
    ]


def test_error_codes_per_day_for_one_channel(store: SqlStore) -> None:
    seed(store)
    rows = counts(store, 86400, group_by=("error_code",), channel=Channel.SMS)
    assert rows == [
        (DAY, None, 1),  # the delivered one has no error code
        (DAY, "30003", 1),
        (DAY, "http_503", 1),
        (DAY + timedelta(days=1), "30003", 1),
    ]


def test_country_provider_and_reason_groups_with_filters(store: SqlStore) -> None:
    seed(store)
    by_country = counts(store, 86400, group_by=("country", "provider"), status=Status.FAILED)
    assert by_country == [
        (DAY, "BR", "twilio", 1),
        (DAY, "US", "twilio", 1),
        (DAY + timedelta(days=1), "BR", "twilio", 1),
    ]
    reasons = counts(store, 86400, group_by=("reason",), message="new_season")
    assert reasons == [(DAY, "frequency_capped", 1)]
    assert counts(store, group_by=("message",), provider="apns") == [
        (DAY + timedelta(hours=11), "payment_failed", 1)
    ]


def test_the_endpoint(db_url: str, tmp_path: Path) -> None:
    clock = FakeClock(DAY + timedelta(days=2))
    with running(settings_for(db_url, tmp_path, run_workers=False), clock) as (client, svc):
        assert isinstance(svc.store, SqlStore)
        seed(svc.store)
        answer = client.get(
            "/v1/insights/delivery",
            params={
                "bucket": "1d",
                "since": "2026-03-02T00:00:00Z",
                "group_by": "channel,error_code",
                "channel": "sms",
            },
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["total"] == 4 and body["group_by"] == ["channel", "error_code"]
        assert body["rows"][1] == {
            "start": "2026-03-02T00:00:00Z",
            "group": {"channel": "sms", "error_code": "30003"},
            "count": 1,
        }
        # By default: the last 7 days, in hours, by channel and status.
        default = client.get("/v1/insights/delivery").json()
        assert (default["bucket"], default["total"]) == ("1h", len(SEEDED))
        assert default["rows"][0]["group"] == {"channel": "sms", "status": "delivered"}
        anonymous = client.get("/v1/insights/delivery", headers={"Authorization": ""})
        assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bucket": "1w"}, "bucket"),
        ({"group_by": "channel,colour"}, "group_by"),
        ({"group_by": "channel,channel"}, "group_by"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
        ({"since": "2020-01-01T00:00:00Z"}, "since"),
        ({"channel": "pigeon"}, "channel"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_bad_parameters_are_named(
    params: dict[str, str], field: str, db_url: str, tmp_path: Path
) -> None:
    with running(settings_for(db_url, tmp_path, run_workers=False)) as (client, _):
        answer = client.get("/v1/insights/delivery", params=params)
    assert answer.status_code == 422, answer.text
    assert [f["field"] for f in answer.json()["fields"]] == [field]


def test_a_narrow_range_counts_the_same_through_the_index(store: SqlStore) -> None:
    # A range holding little of the stored span is read through ix_messages_created
    # on SQLite; a wide one by scanning the table. Both must count alike.
    seed(store)
    ten = DAY + timedelta(hours=10)
    narrow = DeliveryQuery(ten, ten + timedelta(minutes=45), 3600, ("status",))
    assert [(c.start, *c.group, c.count) for c in store.delivery_counts(narrow)] == [
        (ten, "delivered", 1),
        (ten, "failed", 1),
    ]
