"""What Twilio's SMS and voice providers share: the REST client, its error mapping,
the choice of sender by destination country, and the status callback's URL.

Twilio's 2010-04-01 API takes form-encoded POSTs with HTTP basic auth (account
SID and auth token) and answers errors as ``{"code": 21211, "message": ...}``.
Its Messages and Calls resources take no idempotency key, so both providers say
``idempotent = False``: a retry after a lost answer may send twice.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import orjson
import phonenumbers

from clarion import __version__
from clarion.channels.base import (
    BadAddressError,
    Outgoing,
    PermanentError,
    ProviderError,
    Receipt,
    TransientError,
)
from clarion.channels.http1 import Http1Pool
from clarion.channels.http_status import Response, error_for_status, transport_errors
from clarion.core.contracts import TextCopy

DEFAULT_BASE_URL = "https://api.twilio.com"
#: Where Clarion takes Twilio's status callbacks, below its public URL.
STATUS_CALLBACK_PATH = "/v1/providers/twilio/status"

#: How long a handset that was off (30003) keeps SMS from its number.
HANDSET_OFF_FOR = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class NumberLimit:
    """What a Twilio error says the number cannot do (``clarion.core.model.ADDRESS_KINDS``:
    ``phone``, neither SMS nor calls; ``sms``, no SMS but calls may work), and for how
    long (``None``: as long as it is the profile's number)."""

    kind: str
    lasts: timedelta | None = None


#: Twilio error codes about the number, not this message: recorded for its profile
#: (https://www.twilio.com/docs/api/errors). The number does not exist: 21211 invalid
#: 'To' number, 21214 'To' cannot be reached, 21217 number does not appear valid, 21401
#: invalid phone number, 30005 unknown handset. It cannot receive SMS, but a call may
#: reach it (the voice fallback's very case): 21407 number type does not support SMS,
#: 21614 'To' is not a mobile number, 30006 landline or unreachable carrier. For a
#: while only: 30003 unreachable handset (switched off, out of coverage).
NUMBER_LIMITS: Mapping[int, NumberLimit] = {
    **dict.fromkeys((21211, 21214, 21217, 21401, 30005), NumberLimit("phone")),
    **dict.fromkeys((21407, 21614, 30006), NumberLimit("sms")),
    30003: NumberLimit("sms", HANDSET_OFF_FOR),
}


def error_code(code: int | str) -> str:
    """Clarion's code for a Twilio error code: ``twilio:<code>``."""
    return f"twilio:{code}"


@dataclass(frozen=True, slots=True)
class Senders:
    """Who a message comes from, per destination country (ISO 3166 alpha-2).

    The country is the destination number's own (from its E.164 prefix), else
    the profile's; a country without an entry uses ``default``. A sender is a
    Twilio number in E.164 or, for SMS where the country allows it, an
    alphanumeric sender id.
    """

    default: str
    by_country: Mapping[str, str] = field(default_factory=dict)

    def sender_for(self, phone: str, country: str | None) -> str:
        """The sender for a message to ``phone`` of a profile in ``country``."""
        region = country_of(phone) or (country.upper() if country else None)
        if region is not None:
            return self.by_country.get(region, self.default)
        return self.default


def country_of(phone: str) -> str | None:
    """The ISO country of an E.164 number, or None when it names none."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    return region if region and region != "001" else None  # 001: non-geographic


def callback_url(public_url: str | None) -> str | None:
    """Clarion's status callback URL under its public base URL, if one is configured."""
    if not public_url:
        return None
    return public_url.rstrip("/") + STATUS_CALLBACK_PATH


def require_phone(message: Outgoing) -> str:
    """The destination number; a message without one cannot be sent by Twilio."""
    if not message.phone:
        raise PermanentError("no_address", "the profile has no phone number")
    return message.phone


def _twilio_error(response: Response) -> tuple[int | None, str]:
    # Twilio's error body: {"code": 21211, "message": "...", "more_info": ..., "status": 400}
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None, response.content[:200].decode("utf-8", "replace")
    if not isinstance(payload, dict):
        return None, ""
    code = payload.get("code")
    message = payload.get("message")
    text = message if isinstance(message, str) else ""
    if isinstance(code, int) and not isinstance(code, bool):
        return code, text
    if isinstance(code, str) and code.isdigit():
        return int(code), text
    return None, text


def error_for_response(response: Response, phone: str, now: float) -> ProviderError:
    """The error a non-2xx Twilio answer maps to.

    The status decides as for every HTTP provider (``http_status.error_for_status``):
    429 and 5xx are transient (honouring ``Retry-After``); 401, 403, 404... are about
    the account, so the channel fails over (Twilio's 20003, bad credentials, is a
    401); other statuses are about the message. The error is coded
    ``twilio:<code>`` when Twilio gave one, and is a bad-address error for the
    codes in ``NUMBER_LIMITS``.
    """
    status = response.status
    code, text = _twilio_error(response)
    clarion_code = error_code(code) if code is not None else f"http_{status}"
    mapped = error_for_status(status, response.headers.get("retry-after"), now)
    if isinstance(mapped, TransientError):
        return TransientError(clarion_code, text, retry_after=mapped.retry_after)
    limit = NUMBER_LIMITS.get(code) if code is not None else None
    if limit is not None:
        return BadAddressError(clarion_code, text, kind=limit.kind, value=phone, lasts=limit.lasts)
    scope = mapped.scope if mapped is not None else None
    return PermanentError(clarion_code, text, scope=scope)


class TwilioClient:
    """Creates Twilio resources (``Messages``, ``Calls``) for one account.

    Its keep-alive connections (``http1.Http1Pool``) belong to the event loop that
    sends: the dispatcher runs in a loop of its own, which is gone by the time the
    service closes its providers, and a pool cannot outlive its loop.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        max_connections: int = 32,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account_sid = account_sid
        self._base_url = base_url
        self._path = f"{urlsplit(base_url).path.rstrip('/')}/2010-04-01/Accounts/{account_sid}"
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        # The same for every request: built once.
        self._headers = (
            ("authorization", f"Basic {credentials}"),
            ("user-agent", f"clarion/{__version__}"),
            ("accept", "application/json"),
            ("content-type", "application/x-www-form-urlencoded"),
        )
        self._timeout = timeout
        # Every connection is kept alive; requests beyond ``max_connections`` wait.
        self._max = max_connections
        self._clock = clock
        self._pool: Http1Pool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> Http1Pool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            # A pool of another loop is unusable here; its sockets close with it.
            self._loop = loop
            self._pool = Http1Pool(self._base_url, max_connections=self._max, timeout=self._timeout)
        return self._pool

    async def create(
        self, resource: str, form: Sequence[tuple[str, str]], phone: str
    ) -> Mapping[str, object]:
        """POST ``form`` to ``<resource>.json``; the created resource, or a provider error."""
        pool = self._http()
        body = urlencode(form).encode()
        with transport_errors():
            response = await pool.post(f"{self._path}/{resource}.json", body, self._headers)
        if not 200 <= response.status <= 299:
            raise error_for_response(response, phone, self._clock())
        try:
            created = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            # Twilio took it, but we cannot tell its id: retrying could send twice.
            raise PermanentError("twilio:unreadable_answer", str(exc)) from exc
        if not isinstance(created, dict) or not isinstance(created.get("sid"), str):
            raise PermanentError("twilio:unreadable_answer", "no sid in the answer")
        return created

    async def aclose(self) -> None:
        """Close the connection pool this client made, if it belongs to this loop."""
        pool, loop = self._pool, self._loop
        self._pool, self._loop = None, None
        if pool is not None and loop is asyncio.get_running_loop():
            await pool.aclose()


def copy_of(message: Outgoing) -> str:
    """The copy to send or speak, in copy markup (``TextCopy``)."""
    if not isinstance(message.content, TextCopy):
        raise PermanentError("wrong_channel", f"Twilio cannot send a {message.channel} message")
    return message.content.body


class TwilioProvider:
    """What SMS and voice share: one Twilio resource created per message, its SID
    as the receipt's ``ref``. Subclasses name the resource and build its form,
    with ``To`` first and ``From`` second."""

    #: Twilio's Messages and Calls APIs take no idempotency key: a retry after a
    #: lost answer may send twice (see docs/twilio.md).
    idempotent = False
    resource = ""

    def __init__(self, client: TwilioClient, name: str) -> None:
        self.name = name
        self._client = client

    def form(self, message: Outgoing) -> list[tuple[str, str]]:
        """The form fields of the create request for ``message``."""
        raise NotImplementedError

    async def send(self, message: Outgoing) -> Receipt:
        """Create the resource; its SID is the receipt's ``ref``."""
        form = self.form(message)
        created = await self._client.create(self.resource, form, form[0][1])
        return Receipt(
            provider=self.name,
            ref=str(created["sid"]),
            detail={"twilio_status": str(created.get("status")), "from": form[1][1]},
        )

    async def aclose(self) -> None:
        """Close the Twilio client's connections."""
        await self._client.aclose()
