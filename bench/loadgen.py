"""A small HTTP/1.1 load generator: N keep-alive connections, JSON bodies from a template.

Why our own client: on a 2-core machine the load generator shares the CPU with
the server it measures. httpx (and aiohttp) spend 150-400 µs of Python per
request, so at 5,000 requests/s the client alone would take one whole core and
become the bottleneck. A request here is one ``write`` of prebuilt bytes and
a response is one ``readuntil`` plus one ``readexactly`` on asyncio streams
(uvloop when available): about 25 µs of Python each. It speaks only what the
benchmarks need: POST with a ``Content-Length`` body (or GET without one), and
responses framed by ``Content-Length`` (no chunked encoding, no TLS, no redirects).

Two ways to drive the load:

* closed loop (default): every connection sends its next request as soon as
  the previous answer arrives, so concurrency equals ``--connections``;
* open loop (``--rate R``): request ``i`` is due at ``start + i / R``; a free
  connection waits until the next request is due. Latency is then measured
  from the due time, not from the actual send (no coordinated omission: a
  stalled server shows up in the latency, not as a lower send rate).

The body template may contain ``$SEQ`` (the request number, unique in a run)
and ``$PROFILE`` (a random integer below ``--profiles``); with ``--batch K``
each request carries K bodies as ``{"events": [...]}``. The URL's path and
query may contain ``$PROFILE`` too (one value per request, the same as the
body's). Per-profile credentials: ``--header-file F`` holds one header line
per profile index (line k is sent when ``$PROFILE`` is k, and ``$PROFILE`` is
then below the number of lines). Bodies that differ beyond ``$SEQ``:
``--body-file F`` holds one body per line, request i sending line i (cycling; with
``--batch K``, event n of the run sends line n);
a line ``k<TAB>body`` also fixes ``$PROFILE`` to k for that request, so that a
body goes out with its own profile's header. Run it as a separate
process (``python -m bench.loadgen ...``); it prints one JSON object, and with
``--log FILE`` writes the wall-clock due time of every accepted request for
end-to-end latency matching (``bench.measure.due_times``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.measure import percentile


@dataclass
class Plan:
    """What to send, and how much of it."""

    host: str
    port: int
    path: str
    template: str
    headers: Sequence[str] = ()
    connections: int = 64
    total: int | None = None
    duration: float | None = None
    rate: float | None = None
    batch: int = 1
    profiles: int = 1
    seed: int = 1
    expect: int = 202
    method: str = "POST"
    profile_headers: Sequence[str] = ()  # line k: the header sent when $PROFILE is k
    bodies: Sequence[tuple[int | None, str]] = ()  # (fixed $PROFILE or None, body), cycled


@dataclass
class Results:
    """Per-request records, indexed by request number (seq)."""

    due: array[float] = field(default_factory=lambda: array("d"))  # perf_counter when due
    sent: array[float] = field(default_factory=lambda: array("d"))  # perf_counter of the write
    done: array[float] = field(default_factory=lambda: array("d"))  # perf_counter of the answer
    ok: bytearray = field(default_factory=bytearray)  # 1: answered with the expected status
    errors: int = 0
    bad_status: dict[int, int] = field(default_factory=dict)
    bytes_sent: int = 0


class _Source:
    """Hands out request numbers and builds their bytes."""

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._next = 0
        self._rng = random.Random(plan.seed)
        # The request line is split where the path has $PROFILE (a GET's query string).
        self._line = f"{plan.method} {plan.path}".split("$PROFILE")
        # A GET with no body template sends no body (and no Content-Length).
        self._bodyless = plan.method in ("GET", "HEAD") and not plan.template and not plan.bodies
        self._head = (
            f" HTTP/1.1\r\nHost: {plan.host}:{plan.port}\r\n"
            + ("" if self._bodyless else "Content-Type: application/json\r\n")
            + "Connection: keep-alive\r\n"
            + "".join(f"{h}\r\n" for h in plan.headers)
        )
        self._profile_headers = [f"{h}\r\n" for h in plan.profile_headers]
        self._profiles = len(self._profile_headers) or plan.profiles
        self.start = 0.0
        self.deadline = float("inf")
        self.capacity = 0  # how many requests the result arrays can hold

    def take(self) -> int | None:
        """The next request number, or None when the run is over."""
        i = self._next
        if i >= self.capacity:
            return None
        if time.perf_counter() >= self.deadline:
            return None
        if self._plan.rate and self.due(i) >= self.deadline:
            return None  # open loop: nothing is due after the run's end
        self._next += 1
        return i

    def due(self, i: int) -> float:
        rate = self._plan.rate
        return self.start + i / rate if rate else 0.0

    def request(self, i: int) -> bytes:
        plan = self._plan
        rand = self._rng.randrange
        listed = plan.bodies
        fixed, template = listed[i % len(listed)] if listed else (None, plan.template)
        if plan.batch == 1:
            profile = str(rand(self._profiles) if fixed is None else fixed)
            bodies = [template.replace("$SEQ", str(i)).replace("$PROFILE", profile)]
        else:  # each body its own profile and line; the path gets the first one's
            profiles = [str(rand(self._profiles)) for _ in range(plan.batch)]
            profile = profiles[0]
            seqs = range(i * plan.batch, (i + 1) * plan.batch)
            bodies = [
                (listed[seq % len(listed)][1] if listed else template)
                .replace("$SEQ", str(seq))
                .replace("$PROFILE", p)
                for seq, p in zip(seqs, profiles, strict=True)
            ]
        head = profile.join(self._line) + self._head
        if self._profile_headers:
            head += self._profile_headers[int(profile)]
        if self._bodyless:
            return f"{head}\r\n".encode()
        body = (bodies[0] if plan.batch == 1 else '{"events":[' + ",".join(bodies) + "]}").encode()
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    if length:
        await reader.readexactly(length)
    return status


async def _connection(plan: Plan, source: _Source, results: Results) -> None:
    reader, writer = await asyncio.open_connection(plan.host, plan.port)
    try:
        while (i := source.take()) is not None:
            due = source.due(i)
            if due:
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            data = source.request(i)
            sent = time.perf_counter()
            writer.write(data)
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                results.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(plan.host, plan.port)
                continue
            now = time.perf_counter()
            results.due[i] = due or sent
            results.sent[i] = sent
            results.done[i] = now
            results.bytes_sent += len(data)
            if status == plan.expect:
                results.ok[i] = 1
            else:
                results.bad_status[status] = results.bad_status.get(status, 0) + 1
    finally:
        writer.close()


async def run(plan: Plan) -> tuple[Results, float, float, float]:
    """Drive the load; (results, perf start, perf end, wall-clock time at perf start)."""
    source = _Source(plan)
    if plan.total is not None:
        capacity = plan.total
    else:
        capacity = int((plan.duration or 0) * (plan.rate or 50_000.0) * 1.1) + 1000
    source.capacity = capacity
    results = Results(
        array("d", bytes(8 * capacity)),
        array("d", bytes(8 * capacity)),
        array("d", bytes(8 * capacity)),
        bytearray(capacity),
    )
    source.start = time.perf_counter()
    wall = time.time()
    if plan.duration is not None:
        source.deadline = source.start + plan.duration
    await asyncio.gather(*(_connection(plan, source, results) for _ in range(plan.connections)))
    return results, source.start, time.perf_counter(), wall


def summarize(plan: Plan, results: Results, start: float, end: float) -> dict[str, object]:
    done = [(d, s, e) for d, s, e in zip(results.due, results.sent, results.done, strict=True) if e]
    latencies = sorted((e - d) * 1000 for d, _, e in done)
    service = sorted((e - s) * 1000 for _, s, e in done)
    elapsed = end - start
    # Only answers with the expected status count as accepted (see bench.measure.Intake).
    accepted = sum(results.ok) * plan.batch
    out: dict[str, object] = {
        "requests": len(done),
        "accepted": accepted,
        "elapsed_s": round(elapsed, 3),
        "requests_per_s": round(len(done) / elapsed, 1),
        "accepted_per_s": round(accepted / elapsed, 1),
        "connections": plan.connections,
        "batch": plan.batch,
        "mode": "open" if plan.rate else "closed",
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 2),
            "p90": round(percentile(latencies, 90), 2),
            "p99": round(percentile(latencies, 99), 2),
            "p99.9": round(percentile(latencies, 99.9), 2),
            "max": round(latencies[-1], 2) if latencies else None,
        },
        "errors": results.errors,
        "bad_status": results.bad_status,
    }
    if plan.rate:
        out["target_rate"] = plan.rate
        out["service_latency_ms"] = {
            "p50": round(percentile(service, 50), 2),
            "p99": round(percentile(service, 99), 2),
        }
    return out


def due_log(plan: Plan, results: Results, start: float, wall: float) -> dict[str, object]:
    """Wall-clock time at which each accepted request was due (its open-loop schedule
    time; the send time in closed loop), by request number; None if not accepted."""
    due = [
        round(wall + (d - start), 6) if ok else None
        for d, ok in zip(results.due, results.ok, strict=True)
    ]
    while due and due[-1] is None:
        due.pop()
    return {"batch": plan.batch, "due": due}


def _parse(argv: Sequence[str] | None) -> tuple[Plan, str | None]:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.split("\n")[0])
    p.add_argument("url", help="e.g. http://127.0.0.1:8080/v1/events")
    p.add_argument("--template", default="", help="JSON body with $SEQ and $PROFILE")
    p.add_argument("--method", default="POST")
    p.add_argument("--header", action="append", default=[], help="'Name: value'")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--total", type=int, help="send this many requests")
    p.add_argument("--duration", type=float, help="or send for this many seconds")
    p.add_argument("--rate", type=float, help="open loop: requests per second")
    p.add_argument("--batch", type=int, default=1, help="bodies per request")
    p.add_argument("--profiles", type=int, default=1, help="$PROFILE is below this")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--expect", type=int, default=202, help="the expected status code")
    p.add_argument("--log", help="write accepted requests' wall-clock due times (JSON) here")
    p.add_argument("--header-file", help="one header line per profile index ($PROFILE)")
    p.add_argument("--body-file", help="one body per line, cycled ('k<TAB>body' fixes $PROFILE)")
    a = p.parse_args(argv)
    if a.total is None and a.duration is None:
        p.error("give --total or --duration")
    profile_headers = _lines(a.header_file) if a.header_file else []
    bodies = [_body_line(line) for line in _lines(a.body_file)] if a.body_file else []
    if (profile_headers or any(k is not None for k, _ in bodies)) and a.batch != 1:
        p.error("--header-file and 'k<TAB>body' lines take --batch 1")
    url = urlsplit(a.url)
    plan = Plan(
        host=url.hostname or "127.0.0.1",
        port=url.port or 80,
        path=url.path + (f"?{url.query}" if url.query else ""),
        template=a.template,
        headers=a.header,
        connections=a.connections,
        total=a.total,
        duration=a.duration,
        rate=a.rate,
        batch=a.batch,
        profiles=a.profiles,
        seed=a.seed,
        expect=a.expect,
        method=a.method,
        profile_headers=profile_headers,
        bodies=bodies,
    )
    return plan, a.log


def _lines(path: str) -> list[str]:
    with open(path) as f:
        return [line for line in f.read().split("\n") if line]


def _body_line(line: str) -> tuple[int | None, str]:
    index, tab, body = line.partition("\t")
    return (int(index), body) if tab else (None, line)


def main(argv: Sequence[str] | None = None) -> None:
    plan, log = _parse(argv)
    try:
        import uvloop

        runner: Callable[..., Any] = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        runner = asyncio.run
    results, start, end, wall = runner(run(plan))
    summary = summarize(plan, results, start, end)
    if log:
        with open(log, "w") as f:
            json.dump(due_log(plan, results, start, wall), f)
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
