"""A fault-injecting HTTP endpoint that behaves like a provider's API.

It applies each POST once per ``Idempotency-Key`` (when it deduplicates, like
providers that take idempotency keys) and fails a seeded share of requests
transiently. Some failures happen *after* it applied the request (the connection
drops, or the answer comes after the client's timeout), which is what makes
idempotency keys matter. Decisions depend only on the seed, the key and how many
times that key was seen, so a run is reproducible whatever the request order.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus

from clarion.channels.webhook import SIGNATURE_HEADER, verify_signature

#: What happened to one request.
APPLIED = "applied"  # processed and answered 200
REPLAYED = "replayed"  # a key seen before: answered 200 without processing again
REFUSED = "503"  # answered 503 without processing
DROPPED = "dropped"  # processed, then the connection closed without an answer
LATE = "late"  # processed, answered after the client had given up
SCRIPTED = "scripted"  # answered as a test's script said


@dataclass(frozen=True)
class Faults:
    """How often and how the endpoint fails; ``rate`` of requests fail transiently."""

    rate: float = 0.05
    seed: int = 7
    deduplicate: bool = True
    late_seconds: float = 2.5  # longer than the client's timeout


@dataclass
class Arrival:
    at: float  # time.monotonic() when the request arrived
    key: str
    outcome: str


@dataclass
class FaultyEndpoint:
    """The endpoint's state: what arrived and what it applied, per key."""

    faults: Faults = field(default_factory=Faults)
    secret: str = "s3cret"
    #: Answers a test wants instead: (key, n-th request of that key) -> status
    #: and headers, or None for the normal behaviour.
    script: Callable[[str, int], tuple[int, dict[str, str]] | None] | None = None
    url: str = ""
    arrivals: list[Arrival] = field(default_factory=list)
    applied: Counter[str] = field(default_factory=Counter)  # key -> times processed
    seen: Counter[str] = field(default_factory=Counter)  # key -> requests
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def outcomes(self) -> Counter[str]:
        with self.lock:
            return Counter(a.outcome for a in self.arrivals)

    def decide(self, key: str, body: bytes, signature: str) -> str:
        """Record the request and choose its outcome (processing it if need be)."""
        with self.lock:
            self.seen[key] += 1
            n = self.seen[key]
            if not verify_signature(self.secret, signature, body, time.time()):
                self.bad_signatures += 1
            outcome = self._outcome(key, n)
            if outcome in (APPLIED, DROPPED, LATE):
                if self.faults.deduplicate and self.applied[key]:
                    outcome = REPLAYED if outcome == APPLIED else outcome
                else:
                    self.applied[key] += 1
            self.arrivals.append(Arrival(time.monotonic(), key, outcome))
            return outcome

    def _outcome(self, key: str, n: int) -> str:
        if self.script is not None and self.script(key, n) is not None:
            return SCRIPTED
        draw = random.Random(f"{self.faults.seed}:{key}:{n}")
        if draw.random() >= self.faults.rate:
            return APPLIED
        kind = draw.random()
        return REFUSED if kind < 0.5 else DROPPED if kind < 0.85 else LATE


async def _answer(
    endpoint: FaultyEndpoint, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter
) -> bool:
    """Answer one request; False when the connection is to be dropped."""
    key = headers.get("idempotency-key", "")
    outcome = endpoint.decide(key, body, headers.get(SIGNATURE_HEADER.lower(), ""))
    if outcome == DROPPED:
        return False
    if outcome == LATE:
        await asyncio.sleep(endpoint.faults.late_seconds)
    status, extra = 200, dict[str, str]()
    if outcome == REFUSED:
        status = 503
    elif outcome == SCRIPTED:
        assert endpoint.script is not None
        status, extra = endpoint.script(key, endpoint.seen[key]) or (200, {})
    payload = f'{{"id": "ref-{key[:8]}"}}'.encode()
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
    lines += [f"{name}: {value}" for name, value in extra.items()]
    lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}", "", ""]
    writer.write("\r\n".join(lines).encode() + payload)
    await writer.drain()
    return True


async def _connection(
    endpoint: FaultyEndpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """HTTP/1.1 with keep-alive, just enough of it for POSTs with a Content-Length."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if not await _answer(endpoint, headers, body, writer):
                break
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass  # the client hung up (after a timeout, or when done), or the endpoint stops
    finally:
        writer.close()


def _resolve(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)


@contextmanager
def serving(endpoint: FaultyEndpoint) -> Iterator[FaultyEndpoint]:
    """Run the endpoint on a free local port, on its own thread and event loop."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: asyncio.Future[None] | None = None

    async def main() -> None:
        nonlocal stop
        stop = loop.create_future()
        server = await asyncio.start_server(
            lambda r, w: _connection(endpoint, r, w), "127.0.0.1", 0, backlog=1024
        )
        endpoint.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
        started.set()
        async with server:
            await stop
        # Connections still open (keep-alive, or a late answer) end with the endpoint.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield endpoint
    finally:
        loop.call_soon_threadsafe(_resolve, stop)
        thread.join(10)
        loop.close()
