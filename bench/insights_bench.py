"""Delivery insights over a week of stored messages: how long the database takes to
group them per bucket (``GET /v1/insights/delivery``'s query, through the store).

    .venv/bin/python bench/insights_bench.py --messages 500000
    .venv/bin/python bench/insights_bench.py --database-url \\
        postgresql+psycopg://postgres@127.0.0.1/clarion_bench_insights

A SQLite database is made in a temporary directory; a PostgreSQL one is dropped,
recreated and, at the end, dropped again. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.support import drop_postgres, recreate_postgres
from clarion.core.model import Channel
from clarion.store import SqlStore, migrate
from clarion.store.records import DeliveryQuery
from clarion.store.schema import messages

START = datetime(2026, 3, 2, tzinfo=UTC)
CHANNELS = [
    ("push", "apns"),
    ("push", "fcm"),
    ("email", "smtp"),
    ("sms", "twilio"),
    ("voice", "twilio"),
]
COUNTRIES = ["BR", "US", "PT", "ES", "MX", "IN", None]
OUTCOMES = [
    ("delivered", None),
    ("delivered", None),
    ("sent", None),
    ("failed", "provider_rejected:twilio:30003"),
    ("failed", "dead_lettered:http_503"),
    ("suppressed", "frequency_capped:global:6/1d"),
]
QUERIES = {
    "1h_by_channel_status": (3600, ("channel", "status"), None),
    "1d_by_country_error_code": (86400, ("country", "error_code"), None),
    "1h_sms_by_provider_reason": (3600, ("provider", "reason"), "sms"),
}


def seed(store: SqlStore, count: int, rng: random.Random) -> None:
    week = 7 * 86400.0
    base = START.timestamp()
    batch: list[dict[str, object]] = []
    for i in range(count):
        channel, provider = rng.choice(CHANNELS)
        status, reason = rng.choice(OUTCOMES)
        at = base + rng.random() * week
        batch.append(
            {
                "guid": f"{i:040X}",
                "event_id": f"e{i}",
                "profile_id": f"p{i % 50_000}",
                "message": "payment_failed",
                "message_id": 1001,
                "category": "account",
                "channel": channel,
                "step": 0,
                "status": status,
                "reason": reason,
                "created_at": at,
                "updated_at": at,
                "attempts": 1,
                "devices": [],
                "cancel_on": [],
                "provider": provider,
                "country": rng.choice(COUNTRIES),
            }
        )
        if len(batch) == 10_000:
            with store.engine.begin() as conn:
                conn.execute(messages.insert(), batch)
            batch = []
    if batch:
        with store.engine.begin() as conn:
            conn.execute(messages.insert(), batch)
    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE messages")


def measure(store: SqlStore, runs: int) -> dict[str, object]:
    figures: dict[str, object] = {}
    for name, (width, groups, channel) in QUERIES.items():
        only = None if channel is None else Channel(channel)
        query = DeliveryQuery(START, START + timedelta(days=7), width, groups, channel=only)
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            rows = store.delivery_counts(query)
            times.append(time.perf_counter() - began)
        figures[name] = {
            "rows": len(rows),
            "best_ms": round(min(times) * 1000, 1),
            "median_ms": round(sorted(times)[len(times) // 2] * 1000, 1),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'insights.db'}"
        if args.database_url:
            recreate_postgres(url)
        migrate(url)
        store = SqlStore(url)
        try:
            seed(store, args.messages, random.Random(7))
            result = {"bench": "insights", "database": store.dialect, "messages": args.messages}
            result.update(measure(store, args.runs))
        finally:
            store.close()
            if args.database_url:
                drop_postgres(url)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
