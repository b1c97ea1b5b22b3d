"""Event -> provider end to end: sustained messages/s at the sink and event->provider latency.

A population of 100,000 profiles (email, phone, a locale and time-zone mix, one
device with a push token) is written once; each measured run starts from a
copy of it, starts Clarion, and sends ``payment.failed`` events for random
profiles at a fixed open-loop rate from a separate load-generator process,
each with its own amount, currency and show title (``bench.measure.varied_events``).
Each event is transactional and makes four messages (in-app, push, email,
SMS), all routed to the sink provider, which appends a JSON line with the
message guid, ``sent_at`` and the event id in ``tracking.eventGuid``.

Counting and timing are ``bench.measure``'s: only ``202`` answers are accepted
events, only distinct guids at the sink are delivered messages. Figures per
run: distinct messages per second at the sink over the steady-state interval
(the send interval minus its first seconds), event->provider latency per
message (first ``sent_at`` of its guid minus the time the event was *due* in
the open-loop schedule), the backlog (messages not yet at the sink) when
sending stopped, Clarion's CPU per delivered message and cores used, and the
ratio to a floor measured in the same run (on SQLite: plain ``sqlite3``
inserts of the run's own event and message rows into a fresh copy of the
population, 100 events per transaction; on PostgreSQL the same rows through
SQLAlchemy Core's executemany). A run *kept up* when every request
was answered ``202``, intake accepted the offered rate, that backlog is under
half a second of messages, and every message reached the sink shortly after.

The first run offers the target, 5,000 messages/s (1,250 events/s at the four
messages per event that the warm-up counts). If a run does not keep up, the
next offers 90% of the throughput the sink actually saw; if it does, the next
offers 1.5x more. The report names the highest rate that kept up.

Embedded (default): ``clarion serve`` runs the API and every worker in one
process on SQLite; ``--worker-processes N`` runs ``clarion serve
--worker-processes N`` (the workers in N child processes on the same file).
``--database-url postgresql+psycopg://...`` with ``--workers 2`` runs
``clarion serve --no-workers`` plus two ``clarion worker`` processes on
PostgreSQL (the database is dropped and recreated).

    python bench/e2e_bench.py [--seconds 15] [--runs 3]
    python bench/e2e_bench.py --workers 2 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/clarion_bench
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.measure import (
    CpuMeter,
    Deliveries,
    Floor,
    Intake,
    due_times,
    latencies_from_due,
    latency_summary,
    report,
    varied_events,
    write_bodies,
)
from bench.population import populate
from bench.support import (
    CLARION,
    Process,
    clarion_env,
    drop_postgres,
    free_port,
    loadgen,
    postgres_admin_url,
    recreate_postgres,
    serve,
)
from clarion.store import migrate

PROFILES = 100_000
TARGET_MESSAGES_PER_S = 5_000
TARGET_P50_MS = 50.0
TARGET_P99_MS = 250.0
WARMUP_S = 3.0  # the first seconds of a run are not steady state
DRAIN_S = 10.0  # how long to wait for the rest after sending stops
EVENT = (
    '{"id":"$TAG-$SEQ","type":"payment.failed","profile_id":"p$PROFILE",'
    '"payload":{"amount":15.49,"currency":"USD","show_title":"Dark"}}'
)
VARIED = 5_000  # distinct payloads per run (request i sends payload i % VARIED)
FLOOR_EVENTS = 3_000  # events whose rows the SQLite floor inserts again
FLOOR_BATCH = 100  # events per transaction in the floor


@dataclass
class Setup:
    """Where a run's database comes from and which processes serve it."""

    tmp: Path
    database_url: str | None  # PostgreSQL; None for embedded SQLite
    workers: int  # `clarion worker` processes beside the API (0: the API runs the workers)
    worker_processes: int  # with workers == 0: `clarion serve --worker-processes N`
    template: Path | str  # a populated SQLite file, or a PostgreSQL template database name

    def fresh_url(self, run: int) -> str:
        if self.database_url is None:
            path = self.tmp / f"run{run}.db"
            shutil.copyfile(self.template, path)
            return f"sqlite:///{path}"
        _recreate_from_template(self.database_url, str(self.template))
        return self.database_url


def _recreate_from_template(url: str, template: str) -> None:
    import sqlalchemy as sa

    admin, name = postgres_admin_url(url)
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        engine.dispose()


def prepare(
    tmp: Path, database_url: str | None, workers: int, worker_processes: int
) -> tuple[Setup, float]:
    """Migrate and populate the template database once; (setup, seconds populating)."""
    if database_url is None:
        path = tmp / "template.db"
        url = f"sqlite:///{path}"
        migrate(url)
        took = populate(url, PROFILES)
        return Setup(tmp, None, workers, worker_processes, path), took
    template_url = _sibling(database_url, "_template")
    recreate_postgres(template_url)
    migrate(template_url)
    took = populate(template_url, PROFILES)
    _, template_name = postgres_admin_url(template_url)
    return Setup(tmp, database_url, workers, worker_processes, template_name), took


def _sibling(url: str, suffix: str) -> str:
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    return parsed.set(database=f"{parsed.database}{suffix}").render_as_string(hide_password=False)


def _sink_lines(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    return lines[:-1]  # the last piece is empty or a line still being written


def _count_tag(lines: Sequence[bytes], tag: bytes) -> int:
    """Distinct message guids of ``tag``'s events among sink lines (a repeated send
    appends a second line with the same guid: it is not a second delivery)."""
    needle = b'"eventGuid":"' + tag + b"-"
    # The sink writes the guid first: {"guid":"<guid>",...
    return len({line.split(b'"', 4)[3] for line in lines if needle in line})


def run_once(setup: Setup, run: int, rate: float | None, seconds: float) -> dict[str, object]:
    """One measured run at ``rate`` events/s (default: the target) from a fresh copy
    of the population."""
    url = setup.fresh_url(run)
    sink = setup.tmp / f"sink{run}.jsonl"
    env = clarion_env(url, sink)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs: list[Process] = []
    try:
        extra = []
        if setup.worker_processes:
            extra = ["--worker-processes", str(setup.worker_processes)]
        api = serve(env, port, setup.tmp / f"api{run}.log", workers=setup.workers == 0, extra=extra)
        procs.append(api)
        procs += [
            Process([CLARION, "worker"], env, setup.tmp / f"worker{run}-{k}.log")
            for k in range(setup.workers)
        ]
        per_event = _warm_up(base, sink)
        rate = rate or round(TARGET_MESSAGES_PER_S / per_event)
        log = setup.tmp / f"sent{run}.json"
        tag = f"r{run}"
        bodies = write_bodies(
            setup.tmp / f"bodies{run}.txt", varied_events("payment.failed", tag, VARIED, run)
        )
        cpu = CpuMeter([p.proc.pid for p in procs]).start()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        sent_summary = loadgen(
            f"{base}/v1/events",
            "",
            *("--body-file", str(bodies), "--rate", str(rate), "--duration", str(seconds)),
            *("--connections", "64", "--profiles", str(PROFILES)),
            log=log,
        )
        stopped = time.time()
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        intake = Intake.of(sent_summary)
        expected = intake.accepted * per_event
        at_stop = _count_tag(_sink_lines(sink), tag.encode())
        drained_in = _drain(sink, tag.encode(), expected)
        # Sending plus the drain: the CPU every accepted event's messages took.
        usage = cpu.stop()
    finally:
        for proc in reversed(procs):
            proc.stop()
    figures, deliveries = _analyze(sink, tag, log, seconds, stopped)
    if setup.database_url is None:
        floor = _sqlite_floor(url, setup, run, tag, per_event)
    else:
        floor = _postgres_floor(setup.database_url, str(setup.template), tag, per_event)
    loadgen_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    backlog = expected - at_stop
    kept_up = (
        drained_in is not None
        and intake.accepted >= 0.97 * rate * seconds
        and backlog <= rate * per_event * 0.5
    )
    sink_rate = float(figures["sink_messages_per_s"])  # type: ignore[arg-type]
    latency = figures["latency_ms"]
    assert isinstance(latency, dict)
    on_target = (
        kept_up
        and sink_rate >= TARGET_MESSAGES_PER_S * 0.98
        and latency["p50"] <= TARGET_P50_MS
        and latency["p99"] <= TARGET_P99_MS
    )
    return {
        "offered_events_per_s": rate,
        "messages_per_event": per_event,
        "offered_messages_per_s": rate * per_event,
        "intake_latency_ms": sent_summary["latency_ms"],
        **figures,
        "backlog_at_stop": backlog,
        "drained_in_s": drained_in,
        **report(
            intake=intake,
            delivered=len(deliveries),
            expected=expected,
            duplicates=deliveries.duplicates,
            cpu=usage,
            rate_ok=on_target,
            messages_per_s=sink_rate,
            floor=floor,
        ),
        "kept_up": kept_up and intake.clean and len(deliveries) >= expected,
        "loadgen_cpu_cores": round(loadgen_cpu / seconds, 2),
    }


def _sqlite_floor(url: str, setup: Setup, run: int, tag: str, per_event: int) -> Floor:
    """Raw SQLite insert rate of the run's own rows: up to FLOOR_EVENTS of its events
    and their messages, read back from the run's database and inserted with plain
    ``sqlite3`` (WAL, synchronous=NORMAL as Clarion runs it) into a fresh copy of the
    population, FLOOR_BATCH events per transaction; in messages per second."""
    source = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        ids = [
            row[0]
            for row in source.execute(
                "SELECT id FROM events WHERE id LIKE ? LIMIT ?", (f"{tag}-%", FLOOR_EVENTS)
            )
        ]
        batches = [
            _rows_of(source, ids[k : k + FLOOR_BATCH]) for k in range(0, len(ids), FLOOR_BATCH)
        ]
    finally:
        source.close()
    target = setup.tmp / f"floor{run}.db"
    shutil.copyfile(setup.template, target)
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        started = time.perf_counter()
        for batch in batches:
            conn.execute("BEGIN IMMEDIATE")
            for table, columns, rows in batch:
                marks = ",".join("?" * len(columns))
                conn.executemany(
                    f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows
                )
            conn.execute("COMMIT")
        took = time.perf_counter() - started
    finally:
        conn.close()
    what = f"plain sqlite3 inserts of the run's event + message rows, {FLOOR_BATCH} events/txn"
    return Floor(what, len(ids) * per_event / took if took > 0 else 0.0)


def _postgres_floor(url: str, template: str, tag: str, per_event: int) -> Floor:
    """The PostgreSQL floor: the run's own event and message rows (up to FLOOR_EVENTS
    events) inserted into a fresh copy of the population with SQLAlchemy Core
    multi-row inserts (the driver's executemany), FLOOR_BATCH events per transaction."""
    import sqlalchemy as sa

    from clarion.store.schema import events, messages

    source = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with source.connect() as conn:
            ids = conn.scalars(
                sa.select(events.c.id).where(events.c.id.like(f"{tag}-%")).limit(FLOOR_EVENTS)
            ).all()
            batches: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
            for k in range(0, len(ids), FLOOR_BATCH):
                chunk = ids[k : k + FLOOR_BATCH]
                found = conn.execute(sa.select(events).where(events.c.id.in_(chunk)))
                made = conn.execute(sa.select(messages).where(messages.c.event_id.in_(chunk)))
                batches.append(([r._asdict() for r in found], [r._asdict() for r in made]))
    finally:
        source.dispose()
    floor_url = _sibling(url, "_floor")
    _recreate_from_template(floor_url, template)
    target = sa.create_engine(floor_url, poolclass=sa.NullPool)
    try:
        started = time.perf_counter()
        for event_rows, message_rows in batches:
            with target.begin() as conn:
                conn.execute(events.insert(), event_rows)
                conn.execute(messages.insert(), message_rows)
        took = time.perf_counter() - started
    finally:
        target.dispose()
        drop_postgres(floor_url)
    what = f"SQLAlchemy Core inserts of the run's event + message rows, {FLOOR_BATCH} events/txn"
    return Floor(what, len(ids) * per_event / took if took > 0 else 0.0)


def _rows_of(
    conn: sqlite3.Connection, ids: Sequence[str]
) -> list[tuple[str, list[str], list[tuple[object, ...]]]]:
    """The rows of events ``ids`` and of their messages, per table (table, columns, rows)."""
    marks = ",".join("?" * len(ids))
    out = []
    for table, key in (("events", "id"), ("messages", "event_id")):
        cursor = conn.execute(f"SELECT * FROM {table} WHERE {key} IN ({marks})", list(ids))
        columns = [d[0] for d in cursor.description]
        out.append((table, columns, cursor.fetchall()))
    return out


def _warm_up(base: str, sink: Path) -> int:
    """A few hundred events through the whole pipeline before measuring; how many
    messages each event makes (sink lines per event once they stop coming)."""
    events = 300
    loadgen(
        f"{base}/v1/events",
        EVENT.replace("$TAG", "warm"),
        "--total",
        str(events),
        "--rate",
        "300",
        "--connections",
        "8",
        "--profiles",
        str(PROFILES),
    )
    seen, deadline = -1, time.monotonic() + DRAIN_S
    while time.monotonic() < deadline:
        time.sleep(0.5)
        count = _count_tag(_sink_lines(sink), b"warm")
        if count == seen and count >= events:
            break
        seen = count
    return max(1, round(seen / events))


def _drain(sink: Path, tag: bytes, expected: int) -> float | None:
    """Seconds until ``expected`` messages of ``tag`` reached the sink; None past DRAIN_S."""
    start = time.monotonic()
    while time.monotonic() - start < DRAIN_S:
        if _count_tag(_sink_lines(sink), tag) >= expected:
            return round(time.monotonic() - start, 2)
        time.sleep(0.2)
    return None


def arrival_figures(
    arrivals: Iterable[tuple[str, str, float]],
    log: Path,
    tag: str,
    steady_from: float,
    stopped: float,
) -> tuple[Deliveries, int, list[float]]:
    """Of ``tag``'s messages, given as (guid, event id, arrival time): the distinct
    deliveries, how many first arrived in the steady window, and the latencies (ms,
    sorted) from the due time of their event, for events due in that window."""
    prefix = f"{tag}-"
    deliveries, event_of = Deliveries(), {}
    for guid, event_id, at in arrivals:
        if event_id.startswith(prefix):
            deliveries.add(guid, at)
            event_of[guid] = event_id
    due, batch = due_times(log)
    firsts = ((event_of[guid], at) for guid, at in deliveries.first.items())
    latencies = latencies_from_due(firsts, due, prefix, batch, since=steady_from)
    return deliveries, deliveries.within(steady_from, stopped), latencies


def _analyze(
    sink: Path, tag: str, log: Path, seconds: float, stopped: float
) -> tuple[dict[str, object], Deliveries]:
    steady_from = stopped - seconds + WARMUP_S
    records = (orjson.loads(line) for line in _sink_lines(sink))
    arrivals = (
        (r["guid"], r["tracking"]["eventGuid"], datetime.fromisoformat(r["sent_at"]).timestamp())
        for r in records
    )
    deliveries, in_window, latencies = arrival_figures(arrivals, log, tag, steady_from, stopped)
    figures = {
        "sink_messages_per_s": round(in_window / (stopped - steady_from), 1),
        "latency_ms": latency_summary(latencies),
    }
    return figures, deliveries


def main(
    seconds: float = 15.0,
    runs: int = 3,
    database_url: str | None = None,
    workers: int = 0,
    worker_processes: int = 0,
    first_rate: float | None = None,
) -> dict[str, object]:
    name = "e2e_postgres" if database_url else "e2e_sqlite_embedded"
    with tempfile.TemporaryDirectory(prefix="clarion-e2e-") as tmp:
        setup, populate_s = prepare(Path(tmp), database_url, workers, worker_processes)
        rate = first_rate
        results: list[dict[str, object]] = []
        for run in range(runs):
            result = run_once(setup, run, rate, seconds)
            results.append(result)
            offered = float(result["offered_events_per_s"])  # type: ignore[arg-type]
            sink_rate = float(result["sink_messages_per_s"])  # type: ignore[arg-type]
            per_event = int(result["messages_per_event"])  # type: ignore[call-overload]
            if result["kept_up"]:
                rate = round(offered * 1.5)
            else:
                rate = round(0.9 * min(offered, sink_rate / per_event))
        if database_url:
            drop_postgres(database_url)
            drop_postgres(_sibling(database_url, "_template"))
    return _report(name, results, populate_s, setup)


def _report(
    name: str, results: list[dict[str, object]], populate_s: float, setup: Setup
) -> dict[str, object]:
    kept = [r for r in results if r["kept_up"]]
    best = max(kept, key=lambda r: float(r["sink_messages_per_s"]), default=None)  # type: ignore[arg-type]
    peak = max(float(r["sink_messages_per_s"]) for r in results)  # type: ignore[arg-type]
    if setup.workers:
        mode = f"api process + {setup.workers} worker processes"
    elif setup.worker_processes:
        mode = f"clarion serve --worker-processes {setup.worker_processes}"
    else:
        mode = "one process (api + workers)"
    out: dict[str, object] = {
        "bench": name,
        "profiles": PROFILES,
        "mode": mode,
        "sustained_messages_per_s": best["sink_messages_per_s"] if best else None,
        "latency_ms_at_sustained": best["latency_ms"] if best else None,
        "peak_sink_messages_per_s": peak,
        "target_messages_per_s": TARGET_MESSAGES_PER_S,
        "target_latency_ms": {"p50": TARGET_P50_MS, "p99": TARGET_P99_MS},
        # The run at the sustained rate met the target (rate, latency, no error or
        # refusal, every message delivered).
        "target_met": bool(best and best["target_met"]),
        # Of the run at the sustained rate (each run reports its own): a run that kept
        # up had neither, so these are 0 whenever a sustained rate is reported.
        "errors": best["errors"] if best else None,
        "refused": best["refused"] if best else None,
        "cpu_us_per_message": best["cpu_us_per_message"] if best else None,
        "cores_used": best["cores_used"] if best else None,
        "ratio_to_floor": best.get("ratio_to_floor") if best else None,
        "populate_s": round(populate_s, 1),
        "runs": results,
    }
    if setup.database_url:
        out["database"] = setup.database_url.split("@")[-1]
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="sending time per run")
    parser.add_argument("--runs", type=int, default=3, help="rates to try")
    parser.add_argument("--rate", type=float, help="events/s of the first run (default 1250)")
    parser.add_argument("--database-url", help="PostgreSQL URL (its database is recreated)")
    parser.add_argument(
        "--workers", type=int, default=0, help="`clarion worker` processes beside the API"
    )
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        help="embedded: `clarion serve --worker-processes N` (0: workers in the API process)",
    )
    args = parser.parse_args()
    if args.database_url and not args.workers:
        args.workers = 2
    figures = main(
        args.seconds, args.runs, args.database_url, args.workers, args.worker_processes, args.rate
    )
    print(json.dumps(figures))
