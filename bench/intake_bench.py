"""Durable intake over HTTP, embedded: events/s and latency of POST /v1/events.

Starts ``clarion serve --no-workers`` on a fresh SQLite file (so the figure is
intake alone: every 202 means the event is committed), then drives it from a
separate load-generator process with keep-alive connections in closed loop.
Also measures ``POST /v1/events:batch`` with 100 events per request.

    python bench/intake_bench.py [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.support import clarion_env, free_port, loadgen, serve

EVENT = (
    '{"id":"i-$SEQ","type":"payment.failed","profile_id":"p$PROFILE",'
    '"payload":{"amount":15.49,"currency":"USD","show_title":"Dark"}}'
)
TARGET_EVENTS_PER_S = 5_000
TARGET_P99_MS = 50.0


def main(seconds: float = 10.0, connections: int = 64) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="clarion-intake-") as tmp:
        d = Path(tmp)
        env = clarion_env(f"sqlite:///{d / 'clarion.db'}", d / "sink.jsonl")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with serve(env, port, d / "server.log", workers=False):
            # A short warm-up: connections, the first transactions, code paths.
            loadgen(f"{base}/v1/events", EVENT.replace("i-", "w-"), "--total", "2000")
            single = loadgen(
                f"{base}/v1/events",
                EVENT,
                "--duration",
                str(seconds),
                "--connections",
                str(connections),
                "--profiles",
                "100000",
            )
            batch = loadgen(
                f"{base}/v1/events:batch",
                EVENT.replace("i-", "b-"),
                "--duration",
                str(max(2.0, seconds / 2)),
                "--connections",
                "8",
                "--batch",
                "100",
                "--profiles",
                "100000",
            )
    latency = single["latency_ms"]
    assert isinstance(latency, dict)
    blatency = batch["latency_ms"]
    assert isinstance(blatency, dict)
    return {
        "bench": "intake_http_sqlite",
        "events_per_s": single["events_per_s"],
        "connections": connections,
        "latency_ms": latency,
        "errors": single["errors"],
        "bad_status": single["bad_status"],
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": bool(
            float(single["events_per_s"]) >= TARGET_EVENTS_PER_S  # type: ignore[arg-type]
            and latency["p99"] <= TARGET_P99_MS
        ),
        "batch": {
            "events_per_request": 100,
            "connections": 8,
            "events_per_s": batch["events_per_s"],
            "requests_per_s": batch["requests_per_s"],
            "latency_ms": blatency,
            "errors": batch["errors"],
            "bad_status": batch["bad_status"],
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    print(json.dumps(main(args.seconds, args.connections)))
