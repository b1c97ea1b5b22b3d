"""Durable intake over HTTP, embedded: events/s and latency of POST /v1/events.

Starts ``clarion serve --no-workers`` on a fresh SQLite file (so the figure is
intake alone: every 202 means the event is committed), then drives it from a
separate load-generator process with keep-alive connections, open loop at
``--rate`` events/s (latency from each request's due time, so a stall shows as
latency), with varied payloads (``bench.measure.varied_events``). Only ``202``
answers count as accepted; any other answer or a lost request fails the target.
Also measures ``POST /v1/events:batch`` with 100 events per request, in closed
loop (its capacity). Reports the server's CPU per accepted event and cores used.

    python bench/intake_bench.py [--seconds 10] [--rate 5000] [--connections 64]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.measure import CpuMeter, Intake, report, varied_events, write_bodies
from bench.support import clarion_env, free_port, loadgen, serve

EVENT = (
    '{"id":"i-$SEQ","type":"payment.failed","profile_id":"p$PROFILE",'
    '"payload":{"amount":15.49,"currency":"USD","show_title":"Dark"}}'
)
TARGET_EVENTS_PER_S = 5_000
TARGET_P99_MS = 50.0
PROFILES = 100_000


def main(
    seconds: float = 10.0, connections: int = 64, rate: float = TARGET_EVENTS_PER_S
) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="clarion-intake-") as tmp:
        d = Path(tmp)
        env = clarion_env(f"sqlite:///{d / 'clarion.db'}", d / "sink.jsonl")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        single_bodies = write_bodies(d / "single.txt", varied_events("payment.failed", "i", 5000))
        batch_bodies = write_bodies(d / "batch.txt", varied_events("payment.failed", "b", 5000, 2))
        with serve(env, port, d / "server.log", workers=False) as server:
            # A short warm-up: connections, the first transactions, code paths.
            loadgen(f"{base}/v1/events", EVENT.replace("i-", "w-"), "--total", "2000")
            cpu = CpuMeter([server.proc.pid]).start()
            single = loadgen(
                f"{base}/v1/events",
                "",
                *("--body-file", str(single_bodies), "--rate", str(rate)),
                *("--duration", str(seconds), "--connections", str(connections)),
                *("--profiles", str(PROFILES)),
            )
            single_cpu = cpu.stop()
            cpu = CpuMeter([server.proc.pid]).start()
            batch = loadgen(
                f"{base}/v1/events:batch",
                "",
                *("--body-file", str(batch_bodies)),
                *("--duration", str(max(2.0, seconds / 2)), "--connections", "8"),
                *("--batch", "100", "--profiles", str(PROFILES)),
            )
            batch_cpu = cpu.stop()
    latency = single["latency_ms"]
    assert isinstance(latency, dict)
    intake = Intake.of(single)
    per_s = float(single["accepted_per_s"])  # type: ignore[arg-type]
    batch_intake = Intake.of(batch)
    return {
        "bench": "intake_http_sqlite",
        "mode": f"open loop at {rate:g} events/s, {connections} connections",
        "events_per_s": per_s,
        "latency_ms": latency,
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "target_p99_ms": TARGET_P99_MS,
        # Intake's "delivery" is the commit a 202 stands for.
        **report(
            intake=intake,
            delivered=intake.accepted,
            expected=intake.accepted,
            duplicates=0,
            cpu=single_cpu,
            rate_ok=per_s >= 0.98 * TARGET_EVENTS_PER_S and latency["p99"] <= TARGET_P99_MS,
        ),
        "batch": {
            "mode": "closed loop, 8 connections",
            "events_per_request": 100,
            "events_per_s": batch["accepted_per_s"],
            "requests_per_s": batch["requests_per_s"],
            "latency_ms": batch["latency_ms"],
            "accepted": batch_intake.accepted,
            "refused": batch_intake.refused,
            "errors": batch_intake.errors,
            "cpu_us_per_event": round(batch_cpu.cpu_s / max(batch_intake.accepted, 1) * 1e6, 1),
            "cores_used": round(batch_cpu.cores, 2),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=float, default=TARGET_EVENTS_PER_S, help="events/s offered")
    args = parser.parse_args()
    print(json.dumps(main(args.seconds, args.connections, args.rate)))
