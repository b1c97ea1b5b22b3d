"""The SMTP provider against a real SMTP server (aiosmtpd on 127.0.0.1): what arrives,
TLS, authentication, refusals, and connection reuse."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from clarion.channels.base import ErrorScope, Outgoing, PermanentError, Receipt, TransientError
from clarion.channels.email import SmtpProvider, SmtpServer, TlsMode
from clarion.channels.email_render import Sender, Tracking
from clarion.channels.email_tracking import EmailTracking
from clarion.core.model import Channel
from clarion.signing import KeyRing
from tests.integration.smtp_support import (
    PASSWORD,
    USERNAME,
    Mailbox,
    make_tls,
    smtp_server,
)
from tests.integration.smtp_support import SmtpServer as Peer

T = TypeVar("T")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SENDER = Sender("alerts@clarion.test", "Clarion Alerts", reply_to="help@clarion.test")
LINKS = EmailTracking("https://t.clarion.test", KeyRing({"k1": b"k" * 32}, "k1"), lambda: NOW)


def outgoing(guid: str = "G1", email: str = "ana@example.com", **fields: str) -> Outgoing:
    return Outgoing(
        guid=guid,
        channel=Channel.EMAIL,
        message="payment_failed",
        message_id=1001,
        category="account",
        profile_id="ana",
        locale="pt-BR",
        fields=fields
        or {
            "subject": "Ação necessária: pagamento recusado",
            "body": "Olá **Ana**,\n\n[Atualizar pagamento](https://www.example.com/pay?a=1&b=2)",
        },
        email=email,
    )


def provider(
    peer: Peer,
    *,
    tls: TlsMode = "none",
    verify: bool = True,
    ca_file: str | None = None,
    username: str | None = None,
    password: str | None = None,
    tracking: Tracking | None = None,
    pool_size: int = 4,
    max_messages: int = 100,
) -> SmtpProvider:
    server = SmtpServer(
        peer.host,
        peer.port,
        tls=tls,
        verify=verify,
        ca_file=ca_file,
        username=username,
        password=password,
        timeout=5,
        local_hostname="client.test",
    )
    return SmtpProvider(
        server,
        SENDER,
        name="mail",
        tracking=tracking,
        pool_size=pool_size,
        max_messages=max_messages,
        clock=lambda: NOW,
    )


def run(make: Callable[[], SmtpProvider], body: Callable[[SmtpProvider], Awaitable[T]]) -> T:
    async def go() -> T:
        p = make()
        try:
            return await body(p)
        finally:
            await p.aclose()

    return asyncio.run(go())


def send_one(p: SmtpProvider, message: Outgoing | None = None) -> Receipt:
    return run(lambda: p, lambda prov: prov.send(message or outgoing()))


def test_a_message_arrives_with_text_and_html_parts_and_headers() -> None:
    with smtp_server() as peer:
        tracked = provider(peer, tracking=Tracking(LINKS))
        receipt = send_one(tracked)

        assert receipt.provider == "mail" and not receipt.delivered
        assert receipt.ref == "<G1@clarion.test>"
        assert "queued" in str(receipt.detail["smtp"])
        [arrived] = peer.mailbox.arrived
        mail = arrived.message
        assert (arrived.mail_from, arrived.rcpt_tos) == ("alerts@clarion.test", ["ana@example.com"])
        assert mail["Subject"] == "Ação necessária: pagamento recusado"
        assert mail["From"] == "Clarion Alerts <alerts@clarion.test>"
        assert mail["Reply-To"] == "help@clarion.test"
        assert mail["Content-Language"] == "pt-BR"
        assert mail["Message-ID"] == "<G1@clarion.test>"
        assert mail.get_content_type() == "multipart/alternative"
        text = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert text is not None and html is not None
        assert text.get_content().replace("\r\n", "\n") == (
            "Olá Ana,\n\nAtualizar pagamento (https://www.example.com/pay?a=1&b=2)\n"
        )
        markup = html.get_content()
        assert "<strong>Ana</strong>" in markup
        assert "https://www.example.com/pay" not in markup  # routed through Clarion
        assert 'href="https://t.clarion.test/v1/t/c/k1.' in markup
        assert 'src="https://t.clarion.test/v1/t/o/k1.' in markup


def test_starttls_with_a_private_ca_and_login(tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    with smtp_server(starttls=tls.server_context, auth=True) as peer:
        secure = provider(
            peer,
            tls="starttls",
            ca_file=str(tls.ca_file),
            username=USERNAME,
            password=PASSWORD,
        )
        send_one(secure)
        assert peer.mailbox.arrived[0].tls

        # Without the CA, the server's certificate does not verify: not sent.
        untrusting = provider(peer, tls="starttls", username=USERNAME, password=PASSWORD)
        with pytest.raises(TransientError) as raised:
            send_one(untrusting)
        assert raised.value.code == "tls_error"

        # Verification off (test servers only) accepts it.
        send_one(provider(peer, tls="starttls", verify=False, username=USERNAME, password=PASSWORD))
        assert peer.mailbox.count() == 2


def test_implicit_tls(tmp_path: Path) -> None:
    tls = make_tls(tmp_path)
    with smtp_server(implicit_tls=tls.server_context) as peer:
        send_one(provider(peer, tls="implicit", ca_file=str(tls.ca_file)))
        assert peer.mailbox.arrived[0].tls


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_wrong_password_is_transient_not_the_messages_fault() -> None:
    with smtp_server(auth=True) as peer, pytest.raises(TransientError) as raised:
        send_one(provider(peer, username=USERNAME, password="wrong"))
    assert raised.value.code == "smtp_535"
    assert peer.mailbox.count() == 0


def test_550_is_permanent_with_the_smtp_code_and_451_transient() -> None:
    replies = {
        "gone@example.com": "550 5.1.1 mailbox unavailable",
        "busy@example.com": "451 4.3.0 try again later",
    }
    with smtp_server(Mailbox(rcpt_reply=replies.get)) as peer:
        p = provider(peer)

        async def attempts(prov: SmtpProvider) -> list[BaseException | Receipt]:
            results: list[BaseException | Receipt] = []
            for address in ("gone@example.com", "busy@example.com", "ok@example.com"):
                try:
                    results.append(await prov.send(outgoing(email=address)))
                except (PermanentError, TransientError) as exc:
                    results.append(exc)
            return results

        gone, busy, ok = run(lambda: p, attempts)
        assert isinstance(gone, PermanentError) and gone.code == "smtp_550"
        assert "mailbox unavailable" in str(gone)
        assert isinstance(busy, TransientError) and busy.code == "smtp_451"
        assert isinstance(ok, Receipt)
        # Refusals leave the session usable: all three went over one connection.
        assert p.pool.opened == 1 and peer.mailbox.count() == 1


def test_a_refused_sender_is_permanent_for_the_provider_and_a_refused_recipient_not() -> None:
    # The account may not send as this sender: another provider may, so the channel
    # fails over; a refused recipient would be refused by any provider.
    refused_sender = Mailbox(mail_reply=lambda _: "550 5.7.1 sender not allowed for this account")
    with smtp_server(refused_sender) as peer, pytest.raises(PermanentError) as raised:
        send_one(provider(peer))
    assert raised.value.code == "smtp_550" and raised.value.scope is ErrorScope.PROVIDER
    assert "sender not allowed" in str(raised.value)
    assert peer.mailbox.count() == 0

    deferred_sender = Mailbox(mail_reply=lambda _: "451 4.3.0 try again later")
    with smtp_server(deferred_sender) as peer, pytest.raises(TransientError) as deferred:
        send_one(provider(peer))
    assert deferred.value.code == "smtp_451"

    refused_rcpt = Mailbox(rcpt_reply=lambda _: "550 5.1.1 mailbox unavailable")
    with smtp_server(refused_rcpt) as peer, pytest.raises(PermanentError) as gone:
        send_one(provider(peer))
    assert gone.value.scope is ErrorScope.ADDRESS


def test_connection_refused_is_transient() -> None:
    with smtp_server() as peer:
        port = peer.port
    p = SmtpProvider(SmtpServer("127.0.0.1", port, tls="none", timeout=2), SENDER)
    with pytest.raises(TransientError) as raised:
        send_one(p)
    assert raised.value.code == "connection_error"


def test_missing_address_or_copy_is_permanent() -> None:
    with smtp_server() as peer:
        with pytest.raises(PermanentError) as raised:
            send_one(provider(peer), outgoing(email=""))
        assert raised.value.code == "no_address"
        with pytest.raises(PermanentError) as raised:
            send_one(provider(peer), outgoing(subject="Hi"))
        assert raised.value.code == "missing_field"
        assert peer.mailbox.count() == 0


def test_one_pooled_connection_carries_many_messages() -> None:
    with smtp_server() as peer:
        p = provider(peer, pool_size=2)

        async def many(prov: SmtpProvider) -> None:
            for i in range(5):  # one after another: the same connection each time
                await prov.send(outgoing(f"seq-{i}"))
            # Concurrently: at most pool_size connections.
            await asyncio.gather(*(prov.send(outgoing(f"par-{i}")) for i in range(20)))

        run(lambda: p, many)
        assert peer.mailbox.count() == 25
        assert p.pool.opened == peer.mailbox.connections() == 2


def test_a_connection_is_retired_after_max_messages() -> None:
    with smtp_server() as peer:
        p = provider(peer, pool_size=1, max_messages=3)

        async def seven(prov: SmtpProvider) -> None:
            for i in range(7):
                await prov.send(outgoing(f"m-{i}"))

        run(lambda: p, seven)
        assert p.pool.opened == peer.mailbox.connections() == 3


def test_a_connection_the_server_dropped_is_replaced_without_losing_the_message() -> None:
    with smtp_server(idle_timeout=0.3) as peer:
        p = provider(peer)

        async def around_drops(prov: SmtpProvider) -> None:
            await prov.send(outgoing("before"))
            await asyncio.sleep(0.6)  # the server times the idle session out; we notice
            await prov.send(outgoing("after-timeout"))
            # Now the server drops the session and we cannot notice before sending:
            # the pooled connection fails mid-transaction and a new one takes over.
            peer.loop.call_soon_threadsafe(peer.mailbox.transports[-1].close)
            time.sleep(0.2)  # blocks this loop, so the client cannot see the close
            await prov.send(outgoing("after-drop"))

        run(lambda: p, around_drops)
        guids = [a.message["Message-ID"] for a in peer.mailbox.arrived]
        assert guids == [f"<{g}@clarion.test>" for g in ("before", "after-timeout", "after-drop")]
        assert p.pool.opened == 3
