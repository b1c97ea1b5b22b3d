"""Email over SMTP: any server, pooled connections, plain text + HTML, tracking.

SMTP replies are mapped to provider errors here, at the edge: a 4xx reply, a
timeout or a lost connection is ``TransientError`` (retried with backoff), a
5xx reply to the message (550 mailbox unavailable, 554 rejected) is
``PermanentError`` with code ``smtp_<reply code>``. A 5xx reply to MAIL FROM
(the sender refused) is permanent too but scoped to the provider: it is the
account's configuration at fault, not the message, so the email channel fails
over to its next provider. Replies about the relay itself (greeting, EHLO,
AUTH) are transient whatever their code: the fault is in Clarion's
configuration or the server, not in the message, and a fix to either should
let the message go out.

SMTP takes no idempotency key. The message guid becomes the Message-ID, the same
on every attempt; a retry after a connection lost between the end of DATA and
the server's reply may deliver a second copy with that same Message-ID.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import aiosmtplib

from clarion.channels.base import (
    ErrorScope,
    Outgoing,
    PermanentError,
    ProviderError,
    Receipt,
    TransientError,
)
from clarion.channels.email_render import Sender, Tracking, compose, message_id, render
from clarion.channels.smtp_pool import SmtpPool
from clarion.core.model import Channel
from clarion.observability import SMTP_CONNECTIONS, get_logger

log = get_logger("clarion.email")

TlsMode = Literal["none", "starttls", "implicit"]
_DEFAULT_PORTS: dict[TlsMode, int] = {"none": 25, "starttls": 587, "implicit": 465}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to connect: host, port, TLS mode and credentials.

    ``tls``: ``none`` (plain SMTP), ``starttls`` (upgrade required) or
    ``implicit`` (TLS from the first byte, "SMTPS"). ``verify=False`` accepts
    any certificate, for test servers only; ``ca_file`` trusts a private CA.
    """

    host: str
    port: int | None = None
    tls: TlsMode = "starttls"
    verify: bool = True
    ca_file: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    local_hostname: str | None = None

    async def connect(self) -> aiosmtplib.SMTP:
        """A connected session, TLS negotiated and logged in as configured."""
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port or _DEFAULT_PORTS[self.tls],
            username=self.username,
            password=self.password,
            local_hostname=self.local_hostname,
            timeout=self.timeout,
            use_tls=self.tls == "implicit",
            start_tls=self.tls == "starttls",
            validate_certs=self.verify,
            cert_bundle=self.ca_file,
        )
        await smtp.connect()
        SMTP_CONNECTIONS.inc()
        return smtp


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _by_reply(code: int, text: str) -> ProviderError:
    if 500 <= code <= 599:
        return PermanentError(f"smtp_{code}", text)
    return TransientError(f"smtp_{code}", text)


def smtp_error(exc: Exception) -> ProviderError:
    """The provider error an aiosmtplib (or socket, or TLS) failure maps to."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients[0]
        return _by_reply(refused.code, refused.message)
    if isinstance(
        exc,
        aiosmtplib.SMTPAuthenticationError
        | aiosmtplib.SMTPHeloError
        | aiosmtplib.SMTPConnectResponseError,
    ):
        return TransientError(f"smtp_{exc.code}", exc.message)
    if isinstance(exc, aiosmtplib.SMTPSenderRefused) and 500 <= exc.code <= 599:
        # MAIL FROM refused for good: the account may not send as this sender, which
        # another provider (another account) may well allow.
        return PermanentError(f"smtp_{exc.code}", exc.message, scope=ErrorScope.PROVIDER)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _by_reply(exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return PermanentError("smtp_not_supported", exc.message)
    if isinstance(exc, TimeoutError):
        return TransientError("timeout", str(exc))
    if isinstance(exc, ssl.SSLError):  # before OSError and ValueError: it is both
        return TransientError("tls_error", str(exc))
    if isinstance(exc, aiosmtplib.SMTPException | OSError):
        return TransientError("connection_error", str(exc))
    if isinstance(exc, ValueError):  # an address aiosmtplib will not put in an envelope
        return PermanentError("invalid_address", str(exc))
    return TransientError("smtp_error", repr(exc))


class SmtpProvider:
    """Sends email through one SMTP server, over a pool of reused connections.

    ``tracking``, when given, adds the open pixel and routes web links through
    Clarion's click redirect (``clarion.channels.email_tracking``).
    """

    #: SMTP has no idempotency key (see the module docstring).
    idempotent = False
    channels = frozenset({Channel.EMAIL})

    def __init__(
        self,
        server: SmtpServer,
        sender: Sender,
        *,
        name: str = "email",
        tracking: Tracking | None = None,
        pool_size: int = 4,
        max_messages: int = 100,
        max_idle: float = 60.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.name = name
        self.server = server
        self.sender = sender
        self.tracking = tracking
        self._clock = clock
        self.pool = SmtpPool(
            server.connect, size=pool_size, max_messages=max_messages, max_idle=max_idle
        )

    async def send(self, message: Outgoing) -> Receipt:
        """Render, compose and send one email; ``Receipt.ref`` is its Message-ID."""
        content = render(message, self.tracking)
        mail = compose(message, content, self.sender, self._clock())
        try:
            reply = await self._transmit(mail, message.email or "")
        except ProviderError:
            raise
        except Exception as exc:
            error = smtp_error(exc)
            log.info("email_failed", provider=self.name, guid=message.guid, code=error.code)
            raise error from exc
        ref = message_id(message.guid, self.sender.domain)
        return Receipt(provider=self.name, ref=ref, detail={"smtp": reply})

    async def _transmit(self, mail: bytes, recipient: str) -> str:
        # A pooled connection may have been dropped by the server since its last
        # use; that shows only now, so such a failure gets one more try on a new one.
        for fresh in (False, True):
            reused = False
            try:
                async with self.pool.connection(fresh=fresh) as connection:
                    reused = connection.reused
                    _, reply = await connection.smtp.sendmail(
                        self.sender.address, [recipient], mail
                    )
                    return reply
            except aiosmtplib.SMTPServerDisconnected:
                if fresh or not reused:
                    raise
                log.info("smtp_stale_connection", provider=self.name)
        raise AssertionError("unreachable")  # the second pass returns or raises

    async def aclose(self) -> None:
        """QUIT the pooled connections."""
        await self.pool.aclose()
