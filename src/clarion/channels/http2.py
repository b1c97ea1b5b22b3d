"""One multiplexed HTTP/2 connection to one origin, on ``h2`` directly (APNs).

Why not httpx: through httpx and httpcore a push to the local APNs peer cost about
1 ms of CPU, of which the HTTP/2 framing itself is well under half; the rest is
per-request machinery a push does not need (URL merging, cookie extraction, auth
and redirect flows, anyio locks and cancel scopes, a socket write per frame).
Here:

* the frames of every stream made ready in one turn of the event loop go out in
  one socket write (a dispatcher batch starts hundreds of sends at once);
* headers are not re-validated (they are our own, lower-case and well formed);
* HPACK indexes the headers shared by many requests (``shared``: the provider
  token, the topic) so they cost a byte or two after the first request, and
  sends each request's own values (ids, paths, times) as plain literals: they
  would only churn the dynamic table, whose linear search then slows every
  header, and Huffman-coding them in pure Python costs more than the bytes saved.

Failures are raised as httpx's exceptions so that ``http_status.transport_errors``
stays the one place that maps them to provider errors: ``ConnectError`` and
``ConnectTimeout`` when nothing went out (or the server's GOAWAY says the stream
was not processed), ``ReadError`` and ``ReadTimeout`` when the request may have
been applied.

The connection belongs to the event loop that opened it; a request from another
loop (the service closes providers from the API's loop) opens its own.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import hpack
import httpx
from hpack import HeaderTuple, NeverIndexedHeaderTuple

from clarion.channels.http_status import Response, connect

Header = tuple[str, str]


class _PlainEncoder(hpack.Encoder):
    """HPACK without Huffman coding: see the module docstring."""

    def encode(self, headers: Iterable[HeaderTuple], huffman: bool = True) -> bytes:  # type: ignore[override]
        return super().encode(headers, huffman=False)


@dataclass(slots=True)
class _Stream:
    done: asyncio.Future[Response]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)


def _tls_context(verify: bool | ssl.SSLContext) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        context = verify
    else:
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    return context


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: _Connection) -> None:
        self._owner = owner

    def data_received(self, data: bytes) -> None:
        self._owner.received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner.lost(exc)


class _Connection:
    """One TCP (or TLS) connection and its HTTP/2 state."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
        )
        self.h2 = h2.connection.H2Connection(config)
        self.h2.encoder = _PlainEncoder()
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.closed = False  # no new streams: lost, GOAWAY, or closing
        self._flush_scheduled = False
        self._waiters: list[asyncio.Future[None]] = []
        #: Resolved when the server's first SETTINGS frame arrives (or the connection ends).
        self.settled: asyncio.Future[None] = loop.create_future()

    # -- writing ------------------------------------------------------------------
    def flush_soon(self) -> None:
        """Write what h2 has queued at the end of this loop turn, all streams at once."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    # -- capacity (stream slots, flow-control window) -------------------------------
    async def changed(self) -> None:
        """Wait until a stream closes, the window opens or the settings change."""
        waiter = self.loop.create_future()
        self._waiters.append(waiter)
        await waiter

    def _wake(self) -> None:
        if self.closed and not self.settled.done():
            self.settled.set_result(None)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def has_room(self) -> bool:
        limit = self.h2.remote_settings.max_concurrent_streams
        return self.h2.open_outbound_streams < limit

    # -- reading ------------------------------------------------------------------
    def received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self.fail_all(httpx.RemoteProtocolError(f"HTTP/2 protocol error: {exc}"))
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            self._handle(event)
        self.flush_soon()  # acknowledgements: settings, pings, window updates

    def _handle(self, event: h2.events.Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _response(self, event: h2.events.ResponseReceived) -> None:
        stream = self.streams.get(event.stream_id)
        if stream is not None:
            for name, value in event.headers or ():
                key = bytes(name).decode("ascii")
                if key == ":status":
                    stream.status = int(value)
                else:
                    stream.headers[key] = bytes(value).decode("latin-1")

    def _data(self, event: h2.events.DataReceived) -> None:
        stream = self.streams.get(event.stream_id or 0)
        if stream is not None and event.data:
            stream.body.append(event.data)
        self.h2.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id or 0)

    def _ended(self, event: h2.events.StreamEnded) -> None:
        stream = self.streams.pop(event.stream_id or 0, None)
        if stream is not None and not stream.done.done():
            content = b"".join(stream.body)
            stream.done.set_result(Response(stream.status, stream.headers, content))
        self._wake()

    def _reset(self, event: h2.events.StreamReset) -> None:
        stream = self.streams.pop(event.stream_id or 0, None)
        if stream is not None and not stream.done.done():
            why = f"stream reset by the server ({event.error_code!r})"
            refused = event.error_code == h2.errors.ErrorCodes.REFUSED_STREAM
            # REFUSED_STREAM: not processed (RFC 9113 §8.7), safe to send again.
            error = httpx.ConnectError(why) if refused else httpx.RemoteProtocolError(why)
            stream.done.set_exception(error)
        self._wake()

    def _goaway(self, event: h2.events.ConnectionTerminated) -> None:
        self.closed = True
        last = event.last_stream_id if event.last_stream_id is not None else 0
        for stream_id in [s for s in self.streams if s > last]:
            # Not processed by the server (RFC 9113 §6.8): safe to send again.
            stream = self.streams.pop(stream_id)
            if not stream.done.done():
                stream.done.set_exception(httpx.ConnectError("the server sent GOAWAY"))
        self._wake()

    def _capacity(self, event: h2.events.Event) -> None:
        if not self.settled.done():  # the server's first SETTINGS
            self.settled.set_result(None)
        self._wake()

    def lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fail_all(httpx.ReadError(f"connection lost: {exc or 'closed by the server'}"))

    def fail_all(self, error: Exception) -> None:
        self.closed = True
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            if not stream.done.done():
                stream.done.set_exception(error)
        self._wake()


_HANDLERS: dict[type[h2.events.Event], Callable[[_Connection, Any], None]] = {
    h2.events.ResponseReceived: _Connection._response,
    h2.events.DataReceived: _Connection._data,
    h2.events.StreamEnded: _Connection._ended,
    h2.events.StreamReset: _Connection._reset,
    h2.events.ConnectionTerminated: _Connection._goaway,
    h2.events.WindowUpdated: _Connection._capacity,
    h2.events.RemoteSettingsChanged: _Connection._capacity,
}


class Http2Client:
    """Requests to one origin over one multiplexed HTTP/2 connection.

    ``base_url`` is ``https://host[:port]`` (TLS, ALPN ``h2``) or ``http://...``
    (cleartext HTTP/2 with prior knowledge, for local peers). The connection is
    opened on the first request and again after it is lost.
    """

    def __init__(
        self, base_url: str, *, timeout: float = 10.0, verify: bool | ssl.SSLContext = True
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._tls = _tls_context(verify) if parts.scheme == "https" else None
        self._scheme = parts.scheme.encode()
        self._authority = parts.netloc.encode()
        self._timeout = timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None

    async def _connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        conn = self._conn
        if conn is not None and not conn.closed and conn.loop is loop:
            return conn
        connecting = self._connecting
        if connecting is not None and connecting.get_loop() is loop and not connecting.done():
            return await asyncio.shield(connecting)
        self._connecting = connecting = loop.create_future()
        try:
            conn = await self._connect(loop)
        except BaseException as exc:
            self._connecting = None
            connecting.set_exception(exc if isinstance(exc, Exception) else httpx.ConnectError(""))
            connecting.exception()  # retrieved: the waiters (if any) raise it themselves
            raise
        self._conn = conn
        connecting.set_result(conn)
        return conn

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        conn = _Connection(loop)
        deadline = loop.time() + self._timeout
        transport, _ = await connect(
            lambda: _Protocol(conn), self._host, self._port, self._tls, deadline
        )
        assert isinstance(transport, asyncio.Transport)
        if self._tls is not None:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
                transport.close()
                raise httpx.ConnectError(f"{self._host}:{self._port} does not speak HTTP/2")
        conn.transport = transport
        conn.h2.initiate_connection()
        conn.flush_soon()
        try:
            # Until the server's SETTINGS arrive its stream limit is unknown (APNs
            # starts low and raises it): a burst sent before would be refused.
            async with asyncio.timeout(self._timeout):
                await conn.settled
        except TimeoutError as exc:
            transport.close()
            raise httpx.ConnectTimeout(f"no HTTP/2 SETTINGS from {self._host}") from exc
        if conn.closed:
            raise httpx.ConnectError(f"{self._host}:{self._port} closed the connection")
        return conn

    async def post(
        self, path: str, body: bytes, *, shared: Sequence[Header] = (), own: Sequence[Header] = ()
    ) -> Response:
        """POST ``body`` to ``path``. ``shared`` headers are the same for many requests
        (indexed by HPACK), ``own`` are this request's (sent as literals)."""
        conn = await self._connection()
        deadline = conn.loop.time() + self._timeout
        if not conn.has_room():
            try:
                async with asyncio.timeout_at(deadline):
                    while not conn.has_room():
                        await conn.changed()
                        if conn.closed:
                            raise httpx.ConnectError("the connection closed before the request")
            except TimeoutError as exc:  # nothing went out
                raise httpx.PoolTimeout(f"no free stream within {self._timeout} s") from exc
        try:
            async with asyncio.timeout_at(deadline):
                return await self._exchange(conn, path, body, shared, own)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {self._timeout} s") from exc

    async def _exchange(
        self,
        conn: _Connection,
        path: str,
        body: bytes,
        shared: Sequence[Header],
        own: Sequence[Header],
    ) -> Response:
        if conn.closed:
            raise httpx.ConnectError("the connection closed before the request")
        h2conn = conn.h2
        stream_id = h2conn.get_next_available_stream_id()
        headers = [
            HeaderTuple(b":method", b"POST"),
            HeaderTuple(b":scheme", self._scheme),
            HeaderTuple(b":authority", self._authority),
            NeverIndexedHeaderTuple(b":path", path.encode()),
            *(HeaderTuple(n.encode(), v.encode()) for n, v in shared),
            *(NeverIndexedHeaderTuple(n.encode(), v.encode()) for n, v in own),
            NeverIndexedHeaderTuple(b"content-length", str(len(body)).encode()),
        ]
        stream = _Stream(conn.loop.create_future())
        conn.streams[stream_id] = stream
        try:
            h2conn.send_headers(stream_id, headers, end_stream=not body)
            conn.flush_soon()
            sent = 0
            while sent < len(body):
                room = min(
                    h2conn.local_flow_control_window(stream_id), h2conn.max_outbound_frame_size
                )
                if room <= 0:
                    await conn.changed()
                    if conn.closed or stream.done.done():
                        break
                    continue
                chunk = body[sent : sent + room]
                sent += len(chunk)
                h2conn.send_data(stream_id, chunk, end_stream=sent >= len(body))
                conn.flush_soon()
            return await stream.done
        except h2.exceptions.StreamClosedError:
            return await stream.done  # the server answered (or reset) before the body ended
        except BaseException:
            # A timeout or cancellation: give the stream back to the connection.
            conn.streams.pop(stream_id, None)
            if not conn.closed:
                try:
                    h2conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
                    conn.flush_soon()
                except h2.exceptions.H2Error:
                    pass
            raise

    async def aclose(self) -> None:
        """Say GOAWAY and close the connection, if it belongs to the running loop
        (one of another loop, already gone, closes with that loop)."""
        conn, self._conn = self._conn, None
        if conn is None or conn.transport is None:
            return
        if conn.loop is not asyncio.get_running_loop() or conn.loop.is_closed():
            return
        if not conn.transport.is_closing():
            conn.closed = True
            try:
                conn.h2.close_connection()
                conn.transport.write(conn.h2.data_to_send())
            except h2.exceptions.H2Error:
                pass
            conn.transport.close()
