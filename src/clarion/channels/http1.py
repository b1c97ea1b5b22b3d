"""Keep-alive HTTP/1.1 connections to one origin, on ``h11`` (Twilio's REST API).

Why not httpx: httpcore's pool scans every connection, and polls each one's socket
to see whether it expired, for every queued request each time a response comes
in; with the dispatcher's hundreds of sends in flight over 32 connections that
was most of a 2.5 ms CPU cost per SMS. Here a request takes an idle connection
from a stack (or opens one, up to ``max_connections``; beyond that it waits for a
free slot), writes its head and body in one socket write, and puts the connection
back once the response has ended and both sides can go on.

Failures are raised as httpx's exceptions so that ``http_status.transport_errors``
maps them: ``ConnectError`` and ``ConnectTimeout`` when nothing went out,
``PoolTimeout`` when no connection freed up in time, ``ReadError`` and
``ReadTimeout`` when the request may have been applied.

A pool belongs to the event loop that opened its connections; its owner makes one
per loop (``TwilioClient``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

import h11
import httpx

from clarion.channels.http_status import Response, connect

Header = tuple[str, str]


def _tls_context(verify: bool | ssl.SSLContext) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.h11 = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.dead = False
        self._waiter: asyncio.Future[Response] | None = None
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.dead = True
        if exc is None and self._waiter is not None:
            self.data_received(b"")  # EOF: it ends a response framed by the close
        self._fail(httpx.ReadError(f"connection lost: {exc or 'closed by the server'}"))

    def _fail(self, error: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def send(self, data: bytes, waiter: asyncio.Future[Response]) -> None:
        assert self.transport is not None
        self._waiter = waiter
        self._status, self._headers, self._body = 0, {}, []
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            self.h11.receive_data(data)
            while True:
                event = self.h11.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    return
                self._event(event)
        except h11.RemoteProtocolError as exc:
            self.dead = True
            self._fail(httpx.RemoteProtocolError(f"HTTP/1.1 protocol error: {exc}"))
            if self.transport is not None:
                self.transport.close()

    def _event(self, event: object) -> None:
        if isinstance(event, h11.Response):
            self._status = event.status_code
            self._headers = {
                bytes(k).decode("latin-1"): bytes(v).decode("latin-1") for k, v in event.headers
            }
        elif isinstance(event, h11.Data):
            self._body.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            waiter, self._waiter = self._waiter, None
            if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
                self.h11.start_next_cycle()
            else:  # the server closes it ("Connection: close"), or a request is half-sent
                self.dead = True
            if waiter is not None and not waiter.done():
                waiter.set_result(Response(self._status, self._headers, b"".join(self._body)))
        elif isinstance(event, h11.ConnectionClosed):
            self.dead = True
            self._fail(httpx.ReadError("the server closed the connection"))

    def close(self) -> None:
        self.dead = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class Http1Pool:
    """POSTs to one origin over at most ``max_connections`` keep-alive connections."""

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int = 32,
        timeout: float = 10.0,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = _tls_context(verify) if parts.scheme == "https" else None
        self._authority = parts.netloc.encode()
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()

    async def post(
        self, path: str, body: bytes, headers: Sequence[Header], *, timeout: float | None = None
    ) -> Response:
        """POST ``body`` to ``path`` (below the origin) with ``headers``."""
        limit = self._timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        try:
            async with asyncio.timeout_at(deadline):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout(f"no free connection within {limit} s") from exc
        try:
            conn = await self._connection(deadline)
            request = h11.Request(
                method=b"POST",
                target=path.encode(),
                headers=[
                    (b"host", self._authority),
                    *((n.encode(), v.encode()) for n, v in headers),
                    (b"content-length", str(len(body)).encode()),
                ],
            )
            data = conn.h11.send(request) or b""
            data += conn.h11.send(h11.Data(data=body)) or b""
            data += conn.h11.send(h11.EndOfMessage()) or b""
            waiter: asyncio.Future[Response] = loop.create_future()
            conn.send(data, waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    response = await waiter
            except BaseException as exc:
                conn.close()  # a half-read response leaves it unusable
                self._open.discard(conn)
                if isinstance(exc, TimeoutError):
                    raise httpx.ReadTimeout(f"no answer within {limit} s") from exc
                raise
            if conn.dead:
                conn.close()
                self._open.discard(conn)
            else:
                self._idle.append(conn)
            return response
        finally:
            self._slots.release()

    async def _connection(self, deadline: float) -> _Connection:
        while self._idle:
            conn = self._idle.pop()  # the most recently used: least likely to have expired
            if not conn.dead:
                return conn
            self._open.discard(conn)
        _, protocol = await connect(_Connection, self._host, self._port, self._tls, deadline)
        self._open.add(protocol)
        return protocol

    async def aclose(self) -> None:
        """Close every connection."""
        for conn in self._open:
            conn.close()
        self._open.clear()
        self._idle.clear()


class Http1Origins:
    """A keep-alive pool per origin, for providers that post to many URLs (webhooks
    with per-message URLs, Web Push endpoints), on the event loop that sends: a
    pool of another loop (gone, or not running here) is left to that loop."""

    def __init__(
        self,
        *,
        max_connections: int = 32,
        timeout: float = 10.0,
        verify: bool | ssl.SSLContext = True,
    ) -> None:
        self._max = max_connections
        self._timeout = timeout
        self._verify = verify
        self._pools: dict[str, Http1Pool] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def pool_for(self, url: str) -> tuple[Http1Pool, str]:
        """The pool of ``url``'s origin and the request target (path and query);
        ``ValueError`` for a URL that is not http(s)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._pools, self._loop = {}, loop
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        pool = self._pools.get(origin)
        if pool is None:
            pool = Http1Pool(
                origin, max_connections=self._max, timeout=self._timeout, verify=self._verify
            )
            self._pools[origin] = pool
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return pool, target

    async def aclose(self) -> None:
        """Close the pools of the running loop."""
        pools, loop = self._pools, self._loop
        self._pools, self._loop = {}, None
        if loop is asyncio.get_running_loop():
            for pool in pools.values():
                await pool.aclose()
