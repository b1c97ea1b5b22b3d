"""In-app fetch and feedback over HTTP: fetches/s and latency of GET /v1/inapp/alerts,
then feedback posts/s of POST /v1/inapp/feedback, with 100,000 profiles stored.

The population of ``bench.population`` (100,000 profiles) gets three live in-app
messages per profile, written in bulk straight through the store's engine as
the dispatcher would have left them (status ``sent``, channel ``inapp``, with
the events that made them): ``payment_failed`` and ``add_phone`` (alerts) and
``top_pick`` (a notification-center item, which the fetch reads and skips). A
web fetch therefore validates three skeletons and assembles two alerts, each
with two CTAs: six signed feedback objects per response.

``clarion serve --no-workers`` serves the database (with ``--api-processes N``,
from N processes sharing the port; the output says how many); a separate load-generator
process drives it in closed loop (or open loop at ``--rate``, latency from each
request's due time) with keep-alive connections, each request for
a random profile with that profile's own device token (an HS256 JWT, issued
for every one of the 100,000 profiles beforehand, one header line per profile
in a ``--header-file``). Then, in this process, 1,500 fetches (distinct profiles)
collect real impression feedback objects, and the load generator posts them
back (a ``--body-file``: 3,000 different bodies, each posted once with its
profile's token, for at most two thirds of the fetch run's time) at the same
concurrency. Feedback is measured after the
fetches, so the fetch run sees every alert unseen. The fetch is six signed
objects and two rendered alerts; an impression is a read and one write
transaction (state upsert, ``sent`` -> ``delivered``, a lifecycle entry).

    python bench/inapp_bench.py [--seconds 15] [--connections 32] [--api-processes 2]
    python bench/inapp_bench.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1/clarion_bench_inapp

With ``--database-url`` the PostgreSQL database is dropped, recreated and, at
the end, dropped again. Prints one JSON line with fetch and feedback figures,
the target, and the CPU the server, the load generator and everything else on
the machine used during each run (the machine has two cores and is shared).
Counting is ``bench.measure``'s: only ``200`` answers are accepted requests (CPU
per request divides by them); any other answer or a lost request misses the target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.measure import Intake, cpu_seconds, machine_busy_seconds, with_children
from bench.population import CHUNK, populate
from bench.support import (
    clarion_env,
    drop_postgres,
    free_port,
    loadgen,
    recreate_postgres,
    serve,
)
from clarion.core.ids import message_guid
from clarion.inapp.device_auth import issue_device_token
from clarion.store import migrate
from clarion.store.schema import DONE, events, messages
from clarion.store.sql import SqlStore
from clarion.store.sql.bulk import append

PROFILES = 100_000
TARGET_FETCHES_PER_S = 3_000
TARGET_P99_MS = 25.0
DEVICE_SECRET = "bench-device-secret-0123456789abcdef"
FEEDBACK_KEY = "bench-feedback-key-0123456789abcdef0"
QUERY = "platform=web&deviceId=d$PROFILE&locale=en"
#: How many fetches collect the feedback objects that are then posted (two each,
#: each posted once).
COLLECT_FETCHES = 1_500
DAY = 86_400.0

#: (message, id, category, event type, payload, expires_after in days or None):
#: the example catalog's in-app steps (step 0 of each).
ALERTS: tuple[tuple[str, int, str, str, dict[str, object], float | None], ...] = (
    (
        "payment_failed",
        1001,
        "account",
        "payment.failed",
        {"amount": 15.49, "currency": "USD", "show_title": "Dark"},
        7.0,
    ),
    ("add_phone", 1002, "account", "account.phone_missing", {"reason": "r"}, None),
    (
        "top_pick",
        2003,
        "recommendations",
        "recommendation.ready",
        {"title_id": "dark", "title": "Dark", "image": "https://img.example.com/d.jpg"},
        None,
    ),
)
_DEDUP = {"add_phone": "add_phone:r", "top_pick": "top_pick:dark"}


def alert_rows(
    first: int, last: int, now: float, rng: random.Random
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Events and in-app message rows of profiles ``first`` .. ``last - 1``."""
    event_rows: list[dict[str, object]] = []
    message_rows: list[dict[str, object]] = []
    for i in range(first, last):
        profile_id = f"p{i}"
        for k, (name, message_id, category, etype, payload, expires) in enumerate(ALERTS):
            created = now - rng.uniform(60.0, DAY)  # sent within the last day
            event_id = f"inapp-{k}-{i}"
            event_rows.append(
                {
                    "id": event_id,
                    "type": etype,
                    "profile_id": profile_id,
                    "account_id": f"a{i}",
                    "occurred_at": created - 1.0,
                    "received_at": created - 0.5,
                    "seq": 3 * i + k,
                    "payload": payload,
                    "partition": 0,  # decided already: no worker reads it
                    "state": DONE,
                    "processed_at": created,
                }
            )
            message_rows.append(
                {
                    "guid": message_guid(event_id, name, 0, profile_id),
                    "event_id": event_id,
                    "profile_id": profile_id,
                    "message": name,
                    "message_id": message_id,
                    "category": category,
                    "channel": "inapp",
                    "step": 0,
                    "status": "sent",
                    "created_at": created,
                    "updated_at": created,
                    "expires_at": created + expires * DAY if expires else None,
                    "attempts": 1,
                    "devices": [],
                    "dedup_key": _DEDUP.get(name),
                    "cancel_on": [],
                    "provider": "inapp",
                }
            )
    return event_rows, message_rows


def seed(url: str, count: int) -> float:
    """Migrate, add ``count`` profiles and three live in-app messages each; seconds taken."""
    start = time.perf_counter()
    migrate(url)
    populate(url, count)
    store = SqlStore(url)
    now, rng = time.time(), random.Random(7)
    try:
        for first in range(0, count, CHUNK):
            event_rows, message_rows = alert_rows(first, min(count, first + CHUNK), now, rng)
            with store.engine.begin() as conn:
                append(conn, events, event_rows)
                append(conn, messages, message_rows)
        if store.dialect == "postgresql":
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with store.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        store.close()
    return time.perf_counter() - start


def write_tokens(path: Path, count: int) -> list[str]:
    """One ``Authorization`` header line per profile index (profile ``p{k}`` on line k)."""
    secret, ttl, now = DEVICE_SECRET.encode(), timedelta(hours=2), datetime.now(UTC)
    lines = [
        f"Authorization: Bearer {issue_device_token(secret, f'p{k}', ttl, now=now)}"
        for k in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return lines


async def _collect(
    base: str, headers: list[str], fetches: int, connections: int, seed_: int
) -> list[str]:
    """Fetch for ``fetches`` distinct random profiles; every impression object as a body
    line ``k<TAB>{"feedback": ..., "context": ...}`` for the load generator."""
    picks = random.Random(seed_).sample(range(len(headers)), fetches)
    queue = iter(picks)
    lines: list[str] = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            for k in queue:
                auth = headers[k].split(": ", 1)[1]
                r = await client.get(
                    "/v1/inapp/alerts?" + QUERY.replace("$PROFILE", str(k)),
                    headers={"Authorization": auth},
                )
                r.raise_for_status()
                context = {"platform": "web", "deviceId": f"d{k}", "appVersion": "1.0.0"}
                for alert in r.json()["alerts"]:
                    body = {"feedback": alert["attributes"]["impressionFeedback"]}
                    body["context"] = context
                    lines.append(f"{k}\t{orjson.dumps(body).decode()}")

        await asyncio.gather(*(worker() for _ in range(connections)))
    return lines


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL server process on this machine."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().split(" (", 1)[1].startswith("postgres)"):
                found[int(stat.parent.name)] = cpu_seconds(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _server_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of the server ``pid`` and of its child processes (the
    other API processes of ``--api-processes``)."""
    return {p: cpu_seconds(p) for p in with_children([pid])}


def _checkpoints(url: str) -> int:
    """Checkpoints the PostgreSQL server has made so far (timed and requested).

    A checkpoint forced by another client of the same server (``CREATE`` or
    ``DROP DATABASE``: each test session on a shared machine makes both) flushes
    every dirty buffer at once (on this shared machine's disk some took 4-6 s),
    and commits and reads that need the disk meanwhile wait: a run whose tail
    (p99.9, max) jumps while this count moved was likely stalled by one."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            query = "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
            return int(conn.exec_driver_sql(query).scalar_one())
    finally:
        engine.dispose()


@contextmanager
def measured(pid: int, url: str) -> Iterator[Callable[[], dict[str, float]]]:
    """CPU cores used over the ``with`` block by the server ``pid`` (with its child
    API processes), by child processes of this one (the load generator), by
    PostgreSQL (when it serves the run; with the checkpoints it made meanwhile)
    and by everything else on the machine."""
    postgres = url.startswith("postgresql")
    figures: dict[str, float] = {}
    checkpoints0 = _checkpoints(url) if postgres else 0
    server0, busy0, t0 = _server_cpu(pid), machine_busy_seconds(), time.perf_counter()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    database0 = _postgres_cpu() if postgres else {}
    load0 = os.getloadavg()[0]
    yield lambda: figures
    elapsed = time.perf_counter() - t0
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = sum(s - server0.get(p, 0.0) for p, s in _server_cpu(pid).items())
    client = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    database = sum(s - database0.get(p, 0.0) for p, s in _postgres_cpu().items()) if postgres else 0
    busy = machine_busy_seconds() - busy0
    figures.update(
        {
            "server_cpu_cores": round(server / elapsed, 2),
            "server_cpu_s": round(server, 2),
            "loadgen_cpu_cores": round(client / elapsed, 2),
            **({"postgres_cpu_cores": round(database / elapsed, 2)} if postgres else {}),
            **({"postgres_checkpoints": _checkpoints(url) - checkpoints0} if postgres else {}),
            "other_cpu_cores": round(max(0.0, busy - server - client - database) / elapsed, 2),
            "loadavg_1m_before": round(load0, 2),
        }
    )


def _latency(summary: dict[str, object]) -> dict[str, object]:
    """Rate, latency and, as every benchmark counts them (``bench.measure.Intake``), the
    requests answered 200 (accepted), with another status (refused) or not at all."""
    keep = ("requests_per_s", "accepted_per_s", "requests", "latency_ms")
    intake = Intake.of(summary)
    counts = {"accepted": intake.accepted, "refused": intake.refused, "errors": intake.errors}
    return {**{k: summary[k] for k in keep}, **counts, "bad_status": summary["bad_status"]}


def _per_request(figures: dict[str, float], summary: dict[str, object]) -> dict[str, float]:
    """The run's CPU figures with the server's CPU microseconds per request."""
    accepted = max(1, int(summary["accepted"]))  # type: ignore[call-overload]
    return {**figures, "server_cpu_us_per_request": round(figures["server_cpu_s"] / accepted * 1e6)}


def run(
    url: str,
    tmp: Path,
    seconds: float,
    connections: int,
    api_processes: int = 1,
    rate: float | None = None,
) -> dict[str, object]:
    """Serve ``url`` (seeded) and measure fetch, then feedback."""
    tokens = tmp / "tokens.txt"
    started = time.perf_counter()
    headers = write_tokens(tokens, PROFILES)
    tokens_s = time.perf_counter() - started
    env = clarion_env(
        url,
        tmp / "sink.jsonl",
        CLARION_DEVICE_TOKEN_SECRETS=json.dumps({"default": DEVICE_SECRET}),
        CLARION_FEEDBACK_KEYS=json.dumps({"bench": FEEDBACK_KEY}),
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fetch_url = f"{base}/v1/inapp/alerts?{QUERY}"
    common = ("--connections", str(connections), "--header-file", str(tokens), "--expect")
    extra = ("--api-processes", str(api_processes))
    with serve(env, port, tmp / "server.log", workers=False, extra=extra) as server:
        pid = server.proc.pid
        # Warm-up: connections, pooled database connections, code paths, page cache.
        loadgen(fetch_url, "", "--method", "GET", "--total", "1000", *common, "200", api_key=False)
        with measured(pid, url) as fetch_cpu:
            fetch = loadgen(
                fetch_url,
                "",
                "--method",
                "GET",
                "--duration",
                str(seconds),
                *common,
                "200",
                "--seed",
                "2",
                *(("--rate", str(rate)) if rate else ()),
                api_key=False,
            )
        started = time.perf_counter()
        bodies = asyncio.run(_collect(base, headers, COLLECT_FETCHES, connections, 3))
        collect_s = time.perf_counter() - started
        body_file = tmp / "feedback.txt"
        body_file.write_text("\n".join(bodies) + "\n")
        feedback_seconds = max(3.0, seconds * 2 / 3)
        with measured(pid, url) as feedback_cpu:
            # Each body once (a fresh impression each), for at most feedback_seconds.
            feedback = loadgen(
                f"{base}/v1/inapp/feedback",
                "",
                "--total",
                str(len(bodies)),
                "--duration",
                str(feedback_seconds),
                "--body-file",
                str(body_file),
                *common,
                "200",
                api_key=False,
            )
    fetch_latency = fetch["latency_ms"]
    assert isinstance(fetch_latency, dict)
    fetches_per_s = float(fetch["accepted_per_s"])  # type: ignore[arg-type]
    return {
        "fetch": {
            **_latency(fetch),
            "seconds": seconds,
            "alerts_per_response": round(len(bodies) / COLLECT_FETCHES, 2),
            **_per_request(fetch_cpu(), fetch),
        },
        "feedback": {
            **_latency(feedback),
            "seconds": feedback["elapsed_s"],
            "bodies": len(bodies),
            **_per_request(feedback_cpu(), feedback),
        },
        # Only 200s count as fetches; one error or refusal misses the target.
        "target_met": bool(
            fetches_per_s >= TARGET_FETCHES_PER_S
            and fetch_latency["p99"] <= TARGET_P99_MS
            and Intake.of(fetch).clean
        ),
        "setup_s": {"tokens": round(tokens_s, 1), "collect_feedback": round(collect_s, 1)},
    }


def main(
    seconds: float = 15.0,
    connections: int = 32,
    database_url: str | None = None,
    api_processes: int = 1,
    rate: float | None = None,
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="clarion-inapp-") as tmp:
        d = Path(tmp)
        if database_url is None:
            url = f"sqlite:///{d / 'clarion.db'}"
        else:
            recreate_postgres(database_url)
            url = database_url
        try:
            seed_s = seed(url, PROFILES)
            figures = run(url, d, seconds, connections, api_processes, rate)
        finally:
            if database_url is not None:
                drop_postgres(database_url)
    out: dict[str, object] = {
        "bench": "inapp_postgres" if database_url else "inapp_sqlite",
        "profiles": PROFILES,
        "live_inapp_per_profile": len(ALERTS),
        "connections": connections,
        "mode": f"{f'open loop at {rate:g}/s' if rate else 'closed loop'}, "
        f"clarion serve --no-workers --api-processes {api_processes}",
        "api_processes": api_processes,
        "target": {"fetches_per_s": TARGET_FETCHES_PER_S, "p99_ms": TARGET_P99_MS},
        **figures,
        "seed_s": round(seed_s, 1),
        "cores": os.cpu_count(),
    }
    if database_url:
        out["database"] = database_url.split("@")[-1]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="fetch run length")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database-url", help="PostgreSQL URL (its database is recreated)")
    parser.add_argument(
        "--api-processes", type=int, default=1, help="API processes sharing the port"
    )
    parser.add_argument(
        "--rate", type=float, help="fetches/s, open loop (default: closed loop, the capacity)"
    )
    args = parser.parse_args()
    print(
        json.dumps(
            main(args.seconds, args.connections, args.database_url, args.api_processes, args.rate)
        )
    )
