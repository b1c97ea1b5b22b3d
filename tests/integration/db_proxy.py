"""A TCP proxy between Clarion and PostgreSQL that a test can freeze.

``pause()`` stops forwarding in both directions while keeping every connection
open and accepting new ones: to Clarion the database looks like a server that was
sent SIGSTOP (the kernel still accepts connections and acknowledges bytes; nothing
answers). ``resume()`` lets everything held through. ``refuse()`` closes every
connection and each new one at once, like a server that was stopped, until
``resume()``. The shared PostgreSQL server
itself is never touched, so parallel test sessions are not disturbed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


class PausableProxy:
    """Forwards 127.0.0.1:<port> to ``upstream``; runs its own loop on a thread."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="db-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._refusing = False
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")

    def pause(self) -> None:
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def resume(self) -> None:
        self._loop.call_soon_threadsafe(self._resume)

    def refuse(self) -> None:
        self._loop.call_soon_threadsafe(self._refuse)

    def _resume(self) -> None:
        self._refusing = False
        self._flowing.set()

    def _refuse(self) -> None:
        self._refusing = True
        for writer in list(self._writers):
            writer.close()

    def stop(self) -> None:
        self.resume()
        self._loop.call_soon_threadsafe(self._close)
        self._thread.join(10)

    def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        self._loop.call_later(0.2, self._loop.stop)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._flowing.set()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._refusing:
            client_w.close()
            return
        try:
            server_r, server_w = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_w.close()
            return
        self._writers |= {client_w, server_w}
        await asyncio.gather(
            self._pump(client_r, server_w), self._pump(server_r, client_w), return_exceptions=True
        )
        self._writers -= {client_w, server_w}

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._flowing.wait()
                chunk = await reader.read(65536)
                # Bytes read just before a pause are held too.
                await self._flowing.wait()
                if not chunk:
                    break
                writer.write(chunk)
                await writer.drain()
        finally:
            writer.close()


@contextmanager
def proxied(url: str) -> Iterator[tuple[PausableProxy, str]]:
    """A running proxy to the PostgreSQL server of ``url``, and ``url`` through it."""
    parsed = sa.make_url(url)
    proxy = PausableProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    proxy.start()
    try:
        through = parsed.set(host="127.0.0.1", port=proxy.port)
        yield proxy, through.render_as_string(hide_password=False)
    finally:
        proxy.stop()
