"""A real SMTP server for tests and benchmarks: aiosmtpd on 127.0.0.1, in its own thread.

``Mailbox`` is the server's handler: it keeps every message it accepts (parsed
with the standard library), the client port of the session each arrived on (one
port per connection), and answers RCPT with whatever ``rcpt_reply`` says, so a
test can make the server refuse (550) or defer (451) chosen recipients (and MAIL
with whatever ``mail_reply`` says, to refuse a sender).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, cast

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

USERNAME = "clarion"
PASSWORD = "s3cret-pass"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Arrived:
    """One accepted message: the envelope, the parsed message, and the client's port."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer_port: int
    tls: bool


@dataclass
class Mailbox:
    """The aiosmtpd handler; ``rcpt_reply(address)`` (and ``mail_reply(sender)``) returns a
    reply to refuse with, or None."""

    rcpt_reply: Callable[[str], str | None] = lambda _: None
    mail_reply: Callable[[str], str | None] = lambda _: None
    arrived: list[Arrived] = field(default_factory=list)
    transports: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        reply = self.mail_reply(address)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        reply = self.rcpt_reply(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.arrived.append(
                Arrived(
                    str(envelope.mail_from),
                    list(envelope.rcpt_tos),
                    parsed,
                    cast(tuple[str, int], session.peer)[1],
                    session.ssl is not None
                    or server.transport.get_extra_info("ssl_object") is not None,
                )
            )
            self.transports.append(server.transport)
        return "250 2.0.0 Ok: queued"

    def count(self) -> int:
        with self.lock:
            return len(self.arrived)

    def connections(self) -> int:
        """How many SMTP sessions delivered the messages so far."""
        with self.lock:
            return len({a.peer_port for a in self.arrived})


def _authenticate(
    server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class Tls:
    """A throwaway CA and the server's certificate for 127.0.0.1."""

    server_context: ssl.SSLContext
    ca_file: Path


def make_tls(directory: Path) -> Tls:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Tls(context, ca_file)


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox
    loop: asyncio.AbstractEventLoop  # the server's, in its own thread


@contextmanager
def smtp_server(
    mailbox: Mailbox | None = None,
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    auth: bool = False,
    idle_timeout: float = 300,
) -> Iterator[SmtpServer]:
    """An aiosmtpd server on a free port; STARTTLS required when ``starttls`` is given."""
    box = mailbox or Mailbox()
    port = free_port()
    kwargs: dict[str, Any] = {"timeout": idle_timeout}
    if starttls is not None:
        kwargs.update(tls_context=starttls, require_starttls=True)
    if auth:
        kwargs.update(authenticator=_authenticate, auth_required=True)
        kwargs["auth_require_tls"] = starttls is not None or implicit_tls is not None
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        server_hostname="mx.test",
        ssl_context=implicit_tls,
        **kwargs,
    )
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, box, controller.loop)
    finally:
        controller.stop()
