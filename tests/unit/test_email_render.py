"""Rendering an email from the localized copy, and mapping SMTP failures to provider errors."""

from __future__ import annotations

import ssl
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import aiosmtplib
import pytest

from clarion.channels.base import Outgoing, PermanentError, TransientError
from clarion.channels.email import smtp_error
from clarion.channels.email_render import Sender, Tracking, compose, message_id, render
from clarion.channels.email_tracking import EmailTracking
from clarion.core.model import Channel
from clarion.signing import KeyRing

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LINKS = EmailTracking("https://t.example.com", KeyRing({"k1": b"k" * 32}, "k1"), lambda: NOW)


def outgoing(**fields: str) -> Outgoing:
    return Outgoing(
        guid="G1",
        channel=Channel.EMAIL,
        message="m",
        message_id=1,
        category="account",
        profile_id="ana maria",
        locale="es",
        fields=fields,
        email="ana@example.com",
    )


def test_plain_and_html_from_the_same_markup() -> None:
    message = outgoing(
        subject="Hola **Ana**\n<script>",
        body="Hola <b>&\n**tú**\n\n\n[Paga](https://x.io/?a=1&b=2) o [escribe](mailto:a@x.io)",
    )
    content = render(message)
    assert content.subject == "Hola Ana <script>"
    assert content.text == (
        "Hola <b>&\ntú\n\nPaga (https://x.io/?a=1&b=2) o escribe (mailto:a@x.io)\n"
    )
    assert "<p>Hola &lt;b&gt;&amp;<br><strong>tú</strong></p>" in content.html
    assert '<a href="https://x.io/?a=1&amp;b=2">Paga</a>' in content.html
    assert '<html lang="es">' in content.html
    assert "<title>Hola Ana &lt;script&gt;</title>" in content.html
    assert "/v1/t/" not in content.html  # no tracking asked for


def test_tracking_rewrites_web_links_and_adds_the_pixel() -> None:
    message = outgoing(subject="S", body="[Paga](https://x.io/p) [mail](mailto:a@x.io)")
    html = render(message, Tracking(LINKS)).html
    assert 'href="https://t.example.com/v1/t/c/k1.' in html
    assert 'href="mailto:a@x.io"' in html
    assert '<img src="https://t.example.com/v1/t/o/k1.' in html
    assert 'href="https://x.io/p"' not in html

    opens_only = render(message, Tracking(LINKS, clicks=False)).html
    assert 'href="https://x.io/p"' in opens_only and "/v1/t/o/" in opens_only
    clicks_only = render(message, Tracking(LINKS, opens=False)).html
    assert "/v1/t/o/" not in clicks_only and "/v1/t/c/" in clicks_only


@pytest.mark.parametrize("fields", [{"subject": "S"}, {"body": "B"}, {"subject": " ", "body": "B"}])
def test_subject_and_body_are_required(fields: dict[str, str]) -> None:
    with pytest.raises(PermanentError) as raised:
        render(outgoing(**fields))
    assert raised.value.code == "missing_field"


def _parsed(message: Outgoing, sender: Sender) -> EmailMessage:
    parsed = message_from_bytes(compose(message, render(message), sender, NOW), policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_compose_headers_and_parts() -> None:
    message = outgoing(subject="S", body="Olá **tú**")
    sender = Sender(
        "alerts@example.com",
        "Équipe Clarion",
        unsubscribe_url="https://x.io/unsub?p={profile_id}&m={guid}",
    )
    mail = _parsed(message, sender)
    assert mail["From"] == "Équipe Clarion <alerts@example.com>"
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == "S"
    assert mail["Message-ID"] == "<G1@example.com>"
    assert mail["List-Unsubscribe"] == "<https://x.io/unsub?p=ana%20maria&m=G1>"
    assert mail["Content-Language"] == "es"
    assert mail["Date"] == "Mon, 02 Mar 2026 12:00:00 +0000"
    assert "Reply-To" not in mail
    assert not mail.defects
    assert mail.get_content_type() == "multipart/alternative"
    parts = list(mail.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(not p.defects for p in parts)
    assert parts[0].get_content() == "Olá tú\n"
    assert "<p>Olá <strong>tú</strong></p>" in parts[1].get_content()


def test_message_ids_are_stable_and_safe() -> None:
    assert message_id("G1", "example.com") == message_id("G1", "example.com")
    assert message_id("a b<>@c", "example.com") == "<a-b---c@example.com>"


def test_a_recipient_that_would_inject_headers_is_permanent() -> None:
    message = replace(outgoing(subject="S", body="B"), email="ana@example.com\r\nBcc: x@evil.io")
    with pytest.raises(PermanentError) as raised:
        compose(message, render(message), Sender("alerts@example.com"), NOW)
    assert raised.value.code == "invalid_address"


@pytest.mark.parametrize(
    ("exc", "kind", "code"),
    [
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", "a")]),
            PermanentError,
            "smtp_550",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(452, "full", "a")]),
            TransientError,
            "smtp_452",
        ),
        (aiosmtplib.SMTPDataError(554, "rejected"), PermanentError, "smtp_554"),
        (aiosmtplib.SMTPSenderRefused(451, "later", "s"), TransientError, "smtp_451"),
        (aiosmtplib.SMTPResponseException(421, "closing"), TransientError, "smtp_421"),
        (aiosmtplib.SMTPAuthenticationError(535, "bad creds"), TransientError, "smtp_535"),
        (aiosmtplib.SMTPConnectResponseError(554, "go away"), TransientError, "smtp_554"),
        (aiosmtplib.SMTPNotSupported("SMTPUTF8"), PermanentError, "smtp_not_supported"),
        (aiosmtplib.SMTPReadTimeoutError("slow"), TransientError, "timeout"),
        (aiosmtplib.SMTPConnectTimeoutError("slow"), TransientError, "timeout"),
        (aiosmtplib.SMTPServerDisconnected("gone"), TransientError, "connection_error"),
        (ConnectionRefusedError(111, "refused"), TransientError, "connection_error"),
        (ssl.SSLCertVerificationError("bad cert"), TransientError, "tls_error"),
        (ValueError("Invalid address"), PermanentError, "invalid_address"),
        (RuntimeError("?"), TransientError, "smtp_error"),
    ],
)
def test_smtp_errors_map_at_the_edge(exc: Exception, kind: type, code: str) -> None:
    error = smtp_error(exc)
    assert type(error) is kind and error.code == code


def test_long_non_ascii_subjects_survive_the_round_trip() -> None:
    subject = "Ação necessária: o pagamento de R$ 15,49 foi recusado, atualize a forma de pagamento"
    message = outgoing(subject=subject, body="B")
    raw = compose(message, render(message), Sender("a@example.com"), NOW)
    parsed = message_from_bytes(raw, policy=default)
    assert parsed["Subject"] == subject
    assert all(len(line) <= 78 for line in raw.split(b"\n"))
