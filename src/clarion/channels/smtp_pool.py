"""A small pool of open, authenticated SMTP connections, reused across messages.

Opening an SMTP session costs several round trips (greeting, EHLO, STARTTLS and
its handshake, EHLO again, AUTH); a reused one costs none. The pool keeps at
most ``size`` connections, hands each to one sender at a time, replaces
connections that broke or that the server closed, and retires ones idle too long
or used for ``max_messages`` (servers often limit messages per session).

Connections belong to the event loop that opened them. The pool serves the loop
it is used from and, when that loop closes (``asyncio.run`` ending, as the
dispatcher thread does on shutdown), says QUIT from inside it: the loop's
async-generator finalization is the hook asyncio offers for exactly that.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiosmtplib

from clarion.observability import get_logger

log = get_logger("clarion.smtp")


@dataclass(eq=False, slots=True)
class Connection:
    """One SMTP session and how much it has been used."""

    smtp: aiosmtplib.SMTP
    messages: int = 0
    idle_since: float = field(default_factory=time.monotonic)

    @property
    def reused(self) -> bool:
        return self.messages > 0


async def _quit(connection: Connection, timeout: float) -> None:
    try:
        await asyncio.wait_for(connection.smtp.quit(), timeout)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass  # it is going away either way
    finally:
        connection.smtp.close()


class _LoopPool:
    """The pool's state within one event loop."""

    def __init__(self, size: int, quit_timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.slots = asyncio.Semaphore(size)
        self.idle: list[Connection] = []
        self.retiring: set[asyncio.Task[None]] = set()  # held so they finish
        self.quit_timeout = quit_timeout
        self.keeper: AsyncGenerator[None, None] = self._lifetime()

    async def start(self) -> None:
        await anext(self.keeper)  # registered with the loop's async-generator hooks

    async def _lifetime(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await self.close()

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        await asyncio.gather(*(_quit(c, self.quit_timeout) for c in idle))


class SmtpPool:
    """Reusable connections opened by ``connect``; use ``async with pool.connection()``."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[aiosmtplib.SMTP]],
        *,
        size: int = 4,
        max_messages: int = 100,
        max_idle: float = 60.0,
        quit_timeout: float = 5.0,
    ) -> None:
        self._connect = connect
        self._size = size
        self._max_messages = max_messages
        self._max_idle = max_idle
        self._quit_timeout = quit_timeout
        self._pools: dict[asyncio.AbstractEventLoop, _LoopPool] = {}
        #: Connections opened so far (tests and metrics read it).
        self.opened = 0

    async def _pool(self) -> _LoopPool:
        loop = asyncio.get_running_loop()
        for other in [lp for lp in self._pools if lp.is_closed()]:
            del self._pools[other]  # closed with its loop (see _LoopPool._lifetime)
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = _LoopPool(self._size, self._quit_timeout)
            await pool.start()
        return pool

    async def _take(self, pool: _LoopPool, fresh: bool) -> Connection:
        now = time.monotonic()
        while pool.idle and not fresh:
            connection = pool.idle.pop()
            if connection.smtp.is_connected and now - connection.idle_since < self._max_idle:
                return connection
            await _quit(connection, self._quit_timeout)
        smtp = await self._connect()
        self.opened += 1
        return Connection(smtp)

    @contextlib.asynccontextmanager
    async def connection(self, *, fresh: bool = False) -> AsyncIterator[Connection]:
        """A connection for one message (a new one with ``fresh``).

        It goes back to the pool when the block ends normally or with an SMTP
        reply (the server answered, and aiosmtplib has reset the envelope); any
        other exception closes it, since the session's state is then unknown.
        """
        pool = await self._pool()
        async with pool.slots:
            connection = await self._take(pool, fresh)
            try:
                yield connection
            except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
                self._give_back(pool, connection)
                raise
            except BaseException:
                connection.smtp.close()
                raise
            connection.messages += 1
            self._give_back(pool, connection)

    def _give_back(self, pool: _LoopPool, connection: Connection) -> None:
        if not connection.smtp.is_connected:
            return
        # Over its message allowance, or one too many (a ``fresh`` one was opened
        # while others sat idle): closed in the background, nobody waits for QUIT.
        if connection.messages >= self._max_messages or len(pool.idle) >= self._size:
            task = pool.loop.create_task(_quit(connection, self._quit_timeout))
            pool.retiring.add(task)
            task.add_done_callback(pool.retiring.discard)
            return
        connection.idle_since = time.monotonic()
        pool.idle.append(connection)

    async def aclose(self) -> None:
        """QUIT every idle connection, whichever loop holds it."""
        here = asyncio.get_running_loop()
        pools, self._pools = self._pools, {}
        for loop, pool in pools.items():
            if loop is here:
                await pool.close()
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(pool.close(), loop)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.wrap_future(future), self._quit_timeout)
            # A closed loop's connections were closed as it shut down.
