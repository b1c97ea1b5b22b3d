"""Firebase Cloud Messaging, HTTP v1 API, with a service account's OAuth 2.0 token.

The service account's key signs a JWT (RS256) that the account's ``token_uri``
exchanges for an access token (the OAuth 2.0 JWT bearer grant, RFC 7523); the
token is kept until a minute before it expires, or until FCM answers 401.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import orjson

from clarion.channels.base import ErrorScope, PermanentError, TransientError
from clarion.channels.http_status import close_client, transport_errors
from clarion.channels.push_message import Notification, TokenRejected, service_error

FCM_URL = "https://fcm.googleapis.com"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The parts of a Google service-account key file that FCM needs."""

    project_id: str
    client_email: str
    private_key: str
    private_key_id: str
    token_uri: str

    def __repr__(self) -> str:  # the key must never reach a log
        return f"ServiceAccount(project_id={self.project_id!r}, client_email={self.client_email!r})"


def load_service_account(path: Path) -> ServiceAccount:
    """Read a service-account JSON key file; ``ValueError`` naming what is missing."""
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    keys = ("project_id", "client_email", "private_key", "private_key_id", "token_uri")
    missing = [k for k in keys if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    return ServiceAccount(**{k: data[k] for k in keys})


class AccessTokens:
    """OAuth access tokens for one service account, fetched when needed and shared.

    A lock keeps a burst of sends from exchanging a hundred assertions at once.
    """

    def __init__(
        self,
        account: ServiceAccount,
        client: httpx.AsyncClient,
        *,
        token_uri: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._account = account
        self._client = client
        self._token_uri = token_uri or account.token_uri
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: tuple[str, float] | None = None  # (token, expires at)

    def _assertion(self, now: int) -> str:
        claims = {
            "iss": self._account.client_email,
            "scope": SCOPE,
            "aud": self._token_uri,
            "iat": now,
            "exp": now + 3600,
        }
        headers = {"kid": self._account.private_key_id}
        return jwt.encode(claims, self._account.private_key, algorithm="RS256", headers=headers)

    async def get(self) -> str:
        """A valid access token."""
        async with self._lock:
            if self._token is None or self._clock() >= self._token[1]:
                self._token = await self._fetch()
            return self._token[0]

    def expire(self, stale: str) -> None:
        """Forget ``stale`` (FCM refused it)."""
        if self._token is not None and self._token[0] == stale:
            self._token = None

    async def _fetch(self) -> tuple[str, float]:
        now = self._clock()
        form = {"grant_type": JWT_BEARER, "assertion": self._assertion(int(now))}
        with transport_errors():
            response = await self._client.post(self._token_uri, data=form)
        if response.status_code != 200:
            reason = _oauth_reason(response)
            error = service_error(
                response.status_code, reason, response.headers.get("retry-after"), now
            )
            if isinstance(error, PermanentError):  # a revoked or wrong key: say so
                raise PermanentError(
                    f"oauth_{error.code}",
                    "service-account token refused",
                    scope=ErrorScope.PROVIDER,  # the key, not the message: fail over
                )
            raise error
        body = orjson.loads(response.content)
        token, expires_in = body.get("access_token"), body.get("expires_in", 3600)
        if not isinstance(token, str) or not isinstance(expires_in, int):
            raise TransientError("oauth_bad_reply", "no access_token in the token reply")
        return token, now + max(expires_in - 60, 0)  # a minute's margin for clock skew


def message_body(note: Notification, token: str) -> bytes:
    """The ``messages:send`` request: the notification, the app's data, and each
    platform's collapse/priority settings keyed by the message's push id."""
    message: dict[str, object] = {
        "token": token,
        "notification": {"title": note.title, "body": note.body},
        "data": note.data(),
        "android": {
            "priority": "HIGH" if note.urgent else "NORMAL",
            "ttl": f"{note.ttl}s",
            "collapse_key": note.push_id,
            "notification": {"tag": note.push_id, **({"sound": note.sound} if note.sound else {})},
        },
        "apns": {
            "headers": {
                "apns-collapse-id": note.push_id,
                "apns-priority": "10" if note.urgent else "5",
            },
        },
        "webpush": {"headers": {"Urgency": "high" if note.urgent else "normal"}},
    }
    return orjson.dumps({"message": message})


class FcmClient:
    """Sends notifications to Android devices (or any FCM token) through FCM HTTP v1.

    FCM takes no idempotency key; the notification ``tag`` and ``collapse_key``
    (the message's push id) make a retried message replace itself on the device.
    """

    service = "fcm"
    idempotent = True

    def __init__(
        self,
        account: ServiceAccount,
        *,
        base_url: str = FCM_URL,
        token_uri: str | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(http2=True, timeout=timeout)
        self._url = f"{base_url.rstrip('/')}/v1/projects/{account.project_id}/messages:send"
        self._tokens = AccessTokens(account, self._client, token_uri=token_uri, clock=clock)

    async def push(self, note: Notification, token: str) -> str | None:
        """Send to one registration token; FCM's message name."""
        body = message_body(note, token)
        for attempt in (1, 2):
            bearer = await self._tokens.get()
            headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
            with transport_errors():
                response = await self._client.post(self._url, content=body, headers=headers)
            if response.status_code == 200:
                return _message_name(response)
            if response.status_code == 401 and attempt == 1:
                self._tokens.expire(bearer)
                continue
            raise _error(response, self._clock())
        raise TransientError("fcm_unauthenticated")

    async def aclose(self) -> None:
        """Close the HTTP client if this client opened it."""
        if self._owns_client:
            await close_client(self._client)


def _error(response: httpx.Response, now: float) -> Exception:
    """FCM's error reply as a provider error: ``UNREGISTERED``, or an
    ``INVALID_ARGUMENT`` about the token, means the token is dead."""
    try:
        error = orjson.loads(response.content).get("error", {})
    except (orjson.JSONDecodeError, AttributeError):
        error = {}
    error = error if isinstance(error, Mapping) else {}
    details = [d for d in error.get("details", []) if isinstance(d, Mapping)]
    code = next((d.get("errorCode") for d in details if d.get("@type") == _FCM_ERROR), None)
    code = code if isinstance(code, str) else error.get("status")
    message = str(error.get("message", ""))
    if code == "UNREGISTERED" or (code == "INVALID_ARGUMENT" and _about_token(details, message)):
        return TokenRejected(code, message)
    reason = code if isinstance(code, str) else None
    return service_error(response.status_code, reason, response.headers.get("retry-after"), now)


def _message_name(response: httpx.Response) -> str | None:
    try:
        name = orjson.loads(response.content).get("name")
    except (orjson.JSONDecodeError, AttributeError):
        return None  # accepted all the same; FCM's name is only a reference
    return name if isinstance(name, str) else None


def _about_token(details: list[Mapping[str, object]], message: str) -> bool:
    for detail in details:
        if detail.get("@type") != _BAD_REQUEST:
            continue
        violations = detail.get("fieldViolations", [])
        if isinstance(violations, list) and any(
            isinstance(v, Mapping) and v.get("field") == "message.token" for v in violations
        ):
            return True
    return "registration token" in message.lower()


def _oauth_reason(response: httpx.Response) -> str | None:
    try:
        reason = orjson.loads(response.content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return reason if isinstance(reason, str) else None
