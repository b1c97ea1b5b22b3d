"""A plain HTTP/2 (cleartext, prior knowledge) load generator: the ceiling of an HTTP/2
peer, such as the APNs peer, measured alone.

``bench.loadgen`` speaks HTTP/1.1 only; APNs speaks HTTP/2 only. This keeps
``--streams`` requests in flight on each of ``--connections`` connections (closed
loop) for ``--duration`` seconds, each a POST of the same body with the same
headers, written straight on ``h2`` (no client library: a few µs of Python per
request, so the peer, not this, is what saturates). It counts as ``bench.loadgen``
does: answers with ``--expect`` are accepted, others refused, lost streams errors.

    python -m bench.h2load http://127.0.0.1:PORT/3/device/TOKEN --header 'k: v' \\
        --body '{"aps":{}}' --duration 3 [--connections 2] [--streams 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events


@dataclass
class _Stats:
    accepted: int = 0
    errors: int = 0
    bad_status: dict[str, int] = field(default_factory=dict)


class _Client(asyncio.Protocol):
    """One HTTP/2 connection keeping ``streams`` requests in flight until ``deadline``."""

    def __init__(
        self,
        request: list[tuple[str, str]],
        body: bytes,
        streams: int,
        deadline: float,
        expect: int,
        stats: _Stats,
        closed: asyncio.Future[None],
    ) -> None:
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self._conn = h2.connection.H2Connection(config=config)
        self._request, self._body, self._streams = request, body, streams
        self._deadline, self._expect, self._stats = deadline, expect, stats
        self._status: dict[int, str] = {}
        self._closed = closed
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._conn.initiate_connection()
        for _ in range(self._streams):
            self._send()
        transport.write(self._conn.data_to_send())

    def _send(self) -> None:
        if time.perf_counter() >= self._deadline:
            if not self._status and self._transport is not None:
                self._transport.close()
            return
        stream = self._conn.get_next_available_stream_id()
        self._conn.send_headers(stream, self._request)
        self._conn.send_data(stream, self._body, end_stream=True)
        self._status[stream] = ""

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        for event in self._conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                # Decoded to str (``header_encoding``), which h2's types do not follow.
                headers: dict[Any, Any] = dict(event.headers or [])
                self._status[event.stream_id] = str(headers.get(":status", ""))
            elif isinstance(event, h2.events.DataReceived):
                self._conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self._finish(self._status.pop(event.stream_id, ""))
                self._send()
            elif isinstance(event, h2.events.StreamReset):
                self._stats.errors += 1
                self._status.pop(event.stream_id, None)
                self._send()
        self._transport.write(self._conn.data_to_send())

    def _finish(self, status: str) -> None:
        if status == str(self._expect):
            self._stats.accepted += 1
        else:
            self._stats.bad_status[status] = self._stats.bad_status.get(status, 0) + 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._stats.errors += len(self._status)
        if not self._closed.done():
            self._closed.set_result(None)


async def run(
    url: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    duration: float,
    connections: int,
    streams: int,
    expect: int,
) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = [
        (":method", "POST"),
        (":scheme", "http"),
        (":authority", f"{host}:{port}"),
        (":path", parts.path),
        *headers,
        ("content-length", str(len(body))),
    ]
    stats = _Stats()
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    deadline = start + duration
    closed: list[asyncio.Future[None]] = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        closed.append(done)
        await loop.create_connection(
            lambda done=done: _Client(request, body, streams, deadline, expect, stats, done),  # type: ignore[misc]
            host,
            port,
        )
    await asyncio.gather(*closed)
    elapsed = time.perf_counter() - start
    return {
        "accepted": stats.accepted,
        "errors": stats.errors,
        "bad_status": stats.bad_status,
        "elapsed_s": round(elapsed, 3),
        "accepted_per_s": round(stats.accepted / elapsed, 1),
        "connections": connections,
        "streams": streams,
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.h2load", description=__doc__.split("\n")[0])
    p.add_argument("url")
    p.add_argument("--header", action="append", default=[], help="'name: value'")
    p.add_argument("--body", default="")
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--connections", type=int, default=2)
    p.add_argument("--streams", type=int, default=50, help="in flight per connection")
    p.add_argument("--expect", type=int, default=200)
    a = p.parse_args(argv)
    headers = [tuple(h.split(": ", 1)) for h in a.header]
    summary = asyncio.run(
        run(
            a.url,
            [(k.lower(), v) for k, v in headers],
            a.body.encode(),
            a.duration,
            a.connections,
            a.streams,
            a.expect,
        )
    )
    sys.stdout.write(json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
