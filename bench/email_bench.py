"""Email end to end: sustained emails/s from events through the pipeline and the SMTP
provider into a real SMTP server (aiosmtpd), and event->SMTP latency.

The population and the fresh database per run are the e2e benchmark's (100,000
profiles, embedded ``clarion serve`` on SQLite). The catalog is the example
catalog's strings with one message of its own: ``payment.failed`` -> one
transactional email (the ``payment_failed`` email copy, localized), so every
message measured goes through the SMTP provider: rendered as text + HTML with
signed click links and the open pixel (``CLARION_PUBLIC_URL`` is set), sent over
the provider's pooled connections to aiosmtpd running in this process.

The SMTP server notes when each message first arrives (by its Message-ID, which
is the message guid: distinct guids are deliveries, repeats are duplicates);
after the run the database maps guids to events, and the load generator's log
gives the time each event was due in the open-loop schedule (latency runs from
there). Events vary in amount, currency and title; only ``202`` answers are
accepted events. A run *kept up* when every request was accepted, intake took
the offered rate, the backlog at stop was under half a second of emails and all
arrived. Each run reports Clarion's CPU per email, cores used and the ratio to
aiosmtpd's own ceiling, measured first in the same run by a plain ``smtplib``
load generator (``bench.smtpload``, as many sessions as the pool). The first run
offers ``--rate`` events/s; then 1.5x after a run that kept up, or 90% of what
arrived after one that did not.

    python bench/email_bench.py [--seconds 10] [--runs 3] [--rate 400]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from aiosmtpd.controller import Controller

from bench.e2e_bench import DRAIN_S, PROFILES, WARMUP_S, Setup, prepare
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
from bench.support import CATALOG, ROOT, clarion_env, free_port, loadgen, serve

EVENT = (
    '{"id":"$TAG-$SEQ","type":"payment.failed","profile_id":"p$PROFILE",'
    '"payload":{"amount":15.49,"currency":"USD","show_title":"Dark"}}'
)
MESSAGE = """\
name: email_receipt
id: 9001
category: account
trigger: {event: payment.failed}
channels:
  - channel: email
    content:
      subject: payment_failed.email.subject
      body: payment_failed.email.body
"""
_MESSAGE_ID = re.compile(rb"Message-ID: <([0-9A-F]+)@", re.IGNORECASE)
POOL_SIZE = 8
CEILING_S = 3.0  # seconds of aiosmtpd alone under bench.smtpload


@dataclass
class Arrivals:
    """The aiosmtpd handler: when each message (by guid) arrived, and over how many sessions."""

    seen: Deliveries = field(default_factory=Deliveries)
    sessions: set[tuple[str, int]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = _MESSAGE_ID.search(envelope.original_content or b"")
        with self.lock:
            if found:
                self.seen.add(found.group(1).decode(), time.time())
            self.sessions.add(tuple(session.peer))
        return "250 2.0.0 Ok: queued"

    def count(self) -> int:
        """Distinct messages so far."""
        with self.lock:
            return len(self.seen)


def bench_catalog(tmp: Path) -> Path:
    """The example catalog's policy and strings, with the one email-only message."""
    catalog = tmp / "catalog"
    shutil.copytree(CATALOG / "strings", catalog / "strings")
    shutil.copyfile(CATALOG / "clarion.yaml", catalog / "clarion.yaml")
    (catalog / "messages").mkdir()
    (catalog / "messages" / "email_receipt.yaml").write_text(MESSAGE)
    return catalog


def _env(url: str, tmp: Path, catalog: Path, smtp_port: int) -> dict[str, str]:
    email = {
        "type": "smtp",
        "host": "127.0.0.1",
        "port": smtp_port,
        "tls": "none",
        "from_address": "alerts@clarion.test",
        "from_name": "Clarion",
        "local_hostname": "bench.clarion.test",
        "pool_size": POOL_SIZE,
    }
    providers = {"sink": {"type": "sink", "path": str(tmp / "sink.jsonl")}, "email": email}
    return clarion_env(
        url,
        tmp / "sink.jsonl",
        CLARION_CATALOG=str(catalog),
        CLARION_PROVIDERS=json.dumps(providers),
        CLARION_ROUTES=json.dumps({"email": "email"}),
        CLARION_PUBLIC_URL="https://clarion.test",
        CLARION_TRACKING_KEYS=json.dumps({"bench": "b" * 32}),
    )


def _wait_for(arrivals: Arrivals, count: int, within: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < within:
        if arrivals.count() >= count:
            return round(time.monotonic() - start, 2)
        time.sleep(0.1)
    return None


def _events_of(url: str) -> dict[str, tuple[str, str]]:
    """guid -> (event id, status) of every email message in the run's database."""
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT guid, event_id, status FROM messages WHERE channel = 'email'")
        return {guid: (event, status) for guid, event, status in rows}


def smtp_ceiling() -> Floor:
    """aiosmtpd alone, as the runs use it, under ``bench.smtpload`` (POOL_SIZE sessions)."""
    port = free_port()
    controller = Controller(Arrivals(), hostname="127.0.0.1", port=port, server_hostname="mx")
    controller.start()
    try:
        args = [sys.executable, "-m", "bench.smtpload", "--port", str(port)]
        args += ["--duration", str(CEILING_S), "--connections", str(POOL_SIZE)]
        out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True)
    finally:
        controller.stop()
    summary = json.loads(out.stdout)
    if summary["errors"]:
        raise RuntimeError(f"aiosmtpd refused the plain load: {summary}")
    what = f"aiosmtpd alone, bench.smtpload, {POOL_SIZE} smtplib sessions"
    return Floor(what, float(summary["accepted_per_s"]))


def run_once(
    setup: Setup, catalog: Path, run: int, rate: float, seconds: float, floor: Floor
) -> dict[str, object]:
    arrivals = Arrivals()
    smtp_port = free_port()
    controller = Controller(
        arrivals, hostname="127.0.0.1", port=smtp_port, server_hostname="mx.bench"
    )
    controller.start()
    url = setup.fresh_url(run)
    port = free_port()
    tag = f"r{run}"
    try:
        env = _env(url, setup.tmp, catalog, smtp_port)
        with serve(env, port, setup.tmp / f"email{run}.log") as api:
            base = f"http://127.0.0.1:{port}/v1/events"
            warm = 200
            loadgen(base, EVENT.replace("$TAG", "warm"), "--total", str(warm), "--rate", "200")
            _wait_for(arrivals, warm, DRAIN_S)
            before = arrivals.count()
            log = setup.tmp / f"sent{run}.json"
            bodies = varied_events("payment.failed", tag, 5_000, run)
            body_file = write_bodies(setup.tmp / f"bodies{run}.txt", bodies)
            cpu = CpuMeter([api.proc.pid]).start()
            summary = loadgen(
                base,
                "",
                *("--body-file", str(body_file), "--rate", str(rate), "--duration", str(seconds)),
                *("--connections", "32", "--profiles", str(PROFILES)),
                log=log,
            )
            stopped = time.time()
            intake = Intake.of(summary)
            backlog = before + intake.accepted - arrivals.count()
            drained_in = _wait_for(arrivals, before + intake.accepted, DRAIN_S)
            usage = cpu.stop()
    finally:
        controller.stop()
    figures, delivered, duplicates = _analyze(arrivals, _events_of(url), log, tag, seconds, stopped)
    kept_up = (
        drained_in is not None
        and intake.accepted >= 0.97 * rate * seconds
        and backlog <= rate * 0.5
    )
    return {
        "offered_events_per_s": rate,
        "intake_latency_ms": summary["latency_ms"],
        **figures,
        "backlog_at_stop": backlog,
        "drained_in_s": drained_in,
        "smtp_sessions": len(arrivals.sessions),
        **report(
            intake=intake,
            delivered=delivered,
            expected=intake.accepted,
            duplicates=duplicates,
            cpu=usage,
            rate_ok=kept_up,
            messages_per_s=float(figures["smtp_emails_per_s"]),  # type: ignore[arg-type]
            floor=floor,
        ),
        "kept_up": kept_up and intake.clean and delivered >= intake.accepted,
    }


def _analyze(
    arrivals: Arrivals,
    events: dict[str, tuple[str, str]],
    log: Path,
    tag: str,
    seconds: float,
    stopped: float,
) -> tuple[dict[str, object], int, int]:
    """(figures, distinct emails of the run at the server, duplicates among them)."""
    steady_from = stopped - seconds + WARMUP_S
    prefix = f"{tag}-"
    run = Deliveries()
    with arrivals.lock:
        for guid, at in arrivals.seen.first.items():
            if events.get(guid, ("", ""))[0].startswith(prefix):
                run.add(guid, at)
        duplicates = arrivals.seen.duplicates  # warm-up included: any repeat is a fault
    due, batch = due_times(log)
    by_event = ((events[guid][0], at) for guid, at in run.first.items())
    latencies = latencies_from_due(by_event, due, prefix, batch, since=steady_from)
    failed = sum(1 for _, status in events.values() if status == "failed")
    figures = {
        "smtp_emails_per_s": round(run.within(steady_from, stopped) / (stopped - steady_from), 1),
        "latency_ms": latency_summary(latencies),
        "failed_emails": failed,
    }
    return figures, len(run), duplicates


def main(seconds: float = 10.0, runs: int = 3, first_rate: float = 400) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="clarion-email-") as tmp:
        setup, populate_s = prepare(Path(tmp), None, 0, 0)
        catalog = bench_catalog(Path(tmp))
        floor = smtp_ceiling()
        rate, results = first_rate, []
        for run in range(runs):
            result = run_once(setup, catalog, run, rate, seconds, floor)
            results.append(result)
            arrived = float(result["smtp_emails_per_s"])  # type: ignore[arg-type]
            rate = round(rate * 1.5) if result["kept_up"] else round(0.9 * min(rate, arrived))
    kept = [r for r in results if r["kept_up"]]
    best = max(kept, key=lambda r: float(r["smtp_emails_per_s"]), default=None)  # type: ignore[arg-type]
    return {
        "bench": "email_smtp_sqlite_embedded",
        "profiles": PROFILES,
        "mode": f"one process (api + workers), SMTP pool of {POOL_SIZE}, tracking on",
        "sustained_emails_per_s": best["smtp_emails_per_s"] if best else None,
        "latency_ms_at_sustained": best["latency_ms"] if best else None,
        "peak_smtp_emails_per_s": max(float(r["smtp_emails_per_s"]) for r in results),  # type: ignore[arg-type]
        # Of the run at the sustained rate (each run reports its own).
        "errors": best["errors"] if best else None,
        "refused": best["refused"] if best else None,
        "cpu_us_per_message": best["cpu_us_per_message"] if best else None,
        "cores_used": best["cores_used"] if best else None,
        "smtp_server_ceiling_per_s": round(floor.messages_per_s, 1),
        "ratio_to_floor": best["ratio_to_floor"] if best else None,
        "populate_s": round(populate_s, 1),
        "runs": results,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="sending time per run")
    parser.add_argument("--runs", type=int, default=3, help="rates to try")
    parser.add_argument("--rate", type=float, default=400, help="events/s of the first run")
    args = parser.parse_args()
    print(json.dumps(main(args.seconds, args.runs, args.rate)))
