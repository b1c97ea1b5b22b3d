"""An ``Outgoing`` email as a MIME message: plain text and HTML from the same copy.

The localized ``subject`` and ``body`` fields are in Clarion's copy markup; the
plain-text part shows links as ``text (url)``, the HTML part escapes the text,
splits paragraphs on blank lines and, when tracking is on, routes web links
through Clarion's click redirect and adds the open pixel.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr
from typing import Final
from urllib.parse import quote

from clarion.channels.base import Outgoing, PermanentError
from clarion.channels.email_tracking import EmailTracking
from clarion.core.markup import to_html, to_plain

_PARAGRAPHS: Final = re.compile(r"\n[ \t]*\n\s*")
_SPACE: Final = re.compile(r"\s+")
_NOT_ATOM: Final = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")
_ADDRESS: Final = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
#: Quoted-printable keeps mostly-ASCII copy readable in the raw message (base64 would not).
_UTF8: Final = Charset("utf-8")
_UTF8.body_encoding = QP


@dataclass(frozen=True, slots=True)
class Sender:
    """Who an email comes from, and the headers that go with every one."""

    address: str
    name: str | None = None
    reply_to: str | None = None
    #: ``List-Unsubscribe`` target; ``{profile_id}`` and ``{guid}`` are filled in.
    unsubscribe_url: str | None = None

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"


@dataclass(frozen=True, slots=True)
class Tracking:
    """Which kinds of tracking an email gets, and the signer of its URLs."""

    links: EmailTracking
    opens: bool = True
    clicks: bool = True


@dataclass(frozen=True, slots=True)
class EmailContent:
    """The three texts of one email."""

    subject: str
    text: str
    html: str


def _field(message: Outgoing, name: str) -> str:
    value = message.fields.get(name)
    if not value or not value.strip():
        raise PermanentError("missing_field", f"an email needs a non-empty {name!r} field")
    return value


def _paragraphs(body: str) -> list[str]:
    normalized = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    return [p for p in _PARAGRAPHS.split(normalized) if p]


def render(message: Outgoing, tracking: Tracking | None = None) -> EmailContent:
    """Subject, plain text and HTML of ``message``; ``PermanentError`` without subject or body."""
    subject = _SPACE.sub(" ", to_plain(_field(message, "subject"))).strip()
    body = _field(message, "body")
    text = "\n\n".join(to_plain(p) for p in _paragraphs(body)) + "\n"
    rewrite = tracking.links.link_rewriter(message.guid) if tracking and tracking.clicks else None
    paragraphs = "".join(
        f"<p>{to_html(p, rewrite) if rewrite else to_html(p)}</p>\n" for p in _paragraphs(body)
    )
    pixel = ""
    if tracking is not None and tracking.opens:
        src = html.escape(tracking.links.pixel_url(message.guid))
        pixel = (
            f'<img src="{src}" width="1" height="1" alt="" '
            'style="display:block;width:1px;height:1px;border:0">\n'
        )
    document = (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(message.locale)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(subject)}</title>\n</head>\n"
        '<body style="margin:0;padding:24px;font-family:Helvetica,Arial,sans-serif;'
        'font-size:16px;line-height:1.5;color:#222">\n'
        f'<div style="max-width:600px;margin:0 auto">\n{paragraphs}</div>\n{pixel}'
        "</body>\n</html>\n"
    )
    return EmailContent(subject, text, document)


def message_id(guid: str, domain: str) -> str:
    """The Message-ID of message ``guid``: the same on every attempt, so a receiver
    (or a person) can recognize a retry of an email it already has."""
    return f"<{_NOT_ATOM.sub('-', guid)}@{domain}>"


def _unsubscribe(template: str, message: Outgoing) -> str:
    # Filled with str.replace, not str.format: a URL may hold other braces.
    profile, guid = quote(message.profile_id, safe=""), quote(message.guid, safe="")
    return template.replace("{profile_id}", profile).replace("{guid}", guid)


def _subject(value: str) -> str:
    # ASCII stays readable; anything else becomes RFC 2047 encoded words, folded
    # knowing the field name's length (else the first line would be empty).
    return value if value.isascii() else Header(value, "utf-8", header_name="Subject").encode()


def _address(value: str) -> str:
    # The legacy message API below does not check header values, so this does:
    # an address with a line break would add headers of its sender's choosing.
    if not _ADDRESS.match(value):
        raise PermanentError("invalid_address", f"not an email address: {value!r}")
    return value


def compose(message: Outgoing, content: EmailContent, sender: Sender, now: datetime) -> Message:
    """The MIME message: multipart/alternative, text first, HTML preferred.

    Built with the standard library's legacy (``compat32``) classes: ten times
    faster than ``EmailMessage`` and its header parsers, which at a few
    milliseconds a message would cap a dispatcher at a few hundred emails/s.
    """
    if not message.email:
        raise PermanentError("no_address", "the profile has no email address")
    mail = MIMEMultipart("alternative")
    mail["From"] = formataddr((sender.name or "", _address(sender.address)), "utf-8")
    mail["To"] = _address(message.email)
    if sender.reply_to:
        mail["Reply-To"] = _address(sender.reply_to)
    mail["Subject"] = _subject(content.subject)
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id(message.guid, sender.domain)
    mail["Content-Language"] = _NOT_ATOM.sub("", message.locale)
    if sender.unsubscribe_url:
        mail["List-Unsubscribe"] = f"<{_unsubscribe(sender.unsubscribe_url, message)}>"
    mail.attach(_text_part(content.text, "plain"))
    mail.attach(_text_part(content.html, "html"))
    return mail


def _text_part(text: str, subtype: str) -> Message:
    part = MIMENonMultipart("text", subtype)
    part.set_payload(text, _UTF8)  # what MIMEText does, with the quoted-printable charset
    return part
