"""Event -> provider end to end: sustained messages/s at the sink and event->provider latency.

A population of 100,000 profiles (email, phone, a locale and time-zone mix, one
device with a push token) is written once; each measured run starts from a
copy of it, starts Clarion, and sends ``payment.failed`` events for random
profiles at a fixed open-loop rate from a separate load-generator process.
Each event is transactional and makes four messages (in-app, push, email,
SMS), all routed to the sink provider, which appends a JSON line with
``sent_at`` and the event id in ``tracking.eventGuid``.

Figures per run: sink lines per second over the steady-state interval (the
send interval minus its first seconds), event->provider latency per message
(sink ``sent_at`` minus the load generator's send time of the event), and the
backlog (messages not yet at the sink) when sending stopped. A run *kept up*
when intake accepted the offered rate, that backlog is under half a second of
messages, and everything reached the sink shortly after.

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
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.loadgen import percentile
from bench.population import populate
from bench.support import (
    CLARION,
    Process,
    clarion_env,
    cpu_seconds,
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
    needle = b'"eventGuid":"' + tag + b"-"
    return sum(1 for line in lines if needle in line)


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
        pids = [p.proc.pid for p in procs]
        cpu_before = sum(cpu_seconds(pid) for pid in _with_children(pids))
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        log = setup.tmp / f"sent{run}.json"
        tag = f"r{run}"
        sent_summary = loadgen(
            f"{base}/v1/events",
            EVENT.replace("$TAG", tag),
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
            "--connections",
            "64",
            "--profiles",
            str(PROFILES),
            log=log,
        )
        stopped = time.time()
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_during = sum(cpu_seconds(pid) for pid in _with_children(pids)) - cpu_before
        accepted = int(sent_summary["events"])  # type: ignore[call-overload]
        expected = accepted * per_event
        at_stop = _count_tag(_sink_lines(sink), tag.encode())
        drained_in = _drain(sink, tag.encode(), expected)
    finally:
        for proc in reversed(procs):
            proc.stop()
    figures = _analyze(sink, tag, log, seconds, stopped)
    loadgen_cpu = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    backlog = expected - at_stop
    return {
        "offered_events_per_s": rate,
        "messages_per_event": per_event,
        "offered_messages_per_s": rate * per_event,
        "accepted_events": accepted,
        "intake_latency_ms": sent_summary["latency_ms"],
        **figures,
        "backlog_at_stop": backlog,
        "drained_in_s": drained_in,
        "kept_up": drained_in is not None
        and accepted >= 0.97 * rate * seconds
        and backlog <= rate * per_event * 0.5
        and bool(sent_summary["errors"] == 0),
        "clarion_cpu_cores": round(cpu_during / seconds, 2),
        "loadgen_cpu_cores": round(loadgen_cpu / seconds, 2),
    }


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


def _with_children(pids: Sequence[int]) -> list[int]:
    """``pids`` and their child processes (``--worker-processes``)."""
    found = list(pids)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid in pids:
            found.append(int(stat.parent.name))
    return found


def _drain(sink: Path, tag: bytes, expected: int) -> float | None:
    """Seconds until ``expected`` messages of ``tag`` reached the sink; None past DRAIN_S."""
    start = time.monotonic()
    while time.monotonic() - start < DRAIN_S:
        if _count_tag(_sink_lines(sink), tag) >= expected:
            return round(time.monotonic() - start, 2)
        time.sleep(0.2)
    return None


def arrival_figures(
    arrivals: Iterable[tuple[str, float]],
    sent: Sequence[float | None],
    tag: str,
    steady_from: float,
    stopped: float,
) -> tuple[int, list[float]]:
    """Of ``tag``'s messages, given as (event id, arrival time): how many arrived in
    the steady window, and the event->arrival latencies (ms, sorted) of those
    whose event was sent in it (``sent`` is the load generator's log)."""
    prefix = f"{tag}-"
    latencies: list[float] = []
    in_window = 0
    for event_id, at in arrivals:
        if not event_id.startswith(prefix):
            continue
        if steady_from <= at <= stopped:
            in_window += 1
        sent_at = sent[int(event_id[len(prefix) :])]
        if sent_at is not None and sent_at >= steady_from:
            latencies.append((at - sent_at) * 1000)
    latencies.sort()
    return in_window, latencies


def _analyze(sink: Path, tag: str, log: Path, seconds: float, stopped: float) -> dict[str, object]:
    sent: list[float | None] = json.loads(log.read_text())["sent"]
    steady_from = stopped - seconds + WARMUP_S
    records = (orjson.loads(line) for line in _sink_lines(sink))
    arrivals = (
        (r["tracking"]["eventGuid"], datetime.fromisoformat(r["sent_at"]).timestamp())
        for r in records
    )
    in_window, latencies = arrival_figures(arrivals, sent, tag, steady_from, stopped)
    return {
        "sink_messages_per_s": round(in_window / (stopped - steady_from), 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p90": round(percentile(latencies, 90), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(latencies[-1], 1) if latencies else None,
            "messages": len(latencies),
        },
    }


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
        "meets_target": bool(
            best
            and float(best["sink_messages_per_s"]) >= TARGET_MESSAGES_PER_S * 0.98  # type: ignore[arg-type]
            and best["latency_ms"]["p50"] <= TARGET_P50_MS  # type: ignore[index]
            and best["latency_ms"]["p99"] <= TARGET_P99_MS  # type: ignore[index]
        ),
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
