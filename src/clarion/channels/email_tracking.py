"""Signed open-pixel and click-redirect URLs for email, and their verification.

An email's HTML carries ``<public url>/v1/t/o/<token>.gif`` (a 1x1 image: the
open) and every web link becomes ``<public url>/v1/t/c/<token>`` (the click, then
a redirect to the original URL). The token is ``<kid>.<payload>.<signature>``:
``payload`` is base64url of the canonical JSON ``{"t": "o"|"c", "g": message
guid, "x": expiry (epoch seconds), "u": url (clicks only)}`` and ``signature``
HMAC-SHA256 of ``"<kid>.<payload>"`` under the key ``kid`` (``clarion.signing``).

The signature is what makes the redirect safe: Clarion redirects only to URLs it
signed itself, so a tracking link cannot be turned into an open redirect, nor
forge opens and clicks for someone else's message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

import orjson

from clarion.signing import KeyRing, b64url, b64url_decode, canonical_json

Kind = Literal["open", "click"]
Reason = Literal["malformed", "unknown_key", "bad_signature", "expired"]

_CODES: Final[dict[Kind, str]] = {"open": "o", "click": "c"}
#: Key ids appear in URLs, separated from the rest by dots.
_KID: Final = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
#: Only web links are routed through Clarion; mailto:, tel: and app paths stay as written.
_TRACKABLE: Final = ("https://", "http://")


class TokenRejected(Exception):
    """A token Clarion will neither record nor follow; ``reason`` says why."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason


@dataclass(frozen=True, slots=True)
class Tracked:
    """What a verified token says: an open or a click of message ``guid`` (to ``url``)."""

    kind: Kind
    guid: str
    url: str | None
    expires_at: int


class EmailTracking:
    """Makes and checks the tracking URLs of emails.

    ``public_url`` is where mail clients reach Clarion (``CLARION_PUBLIC_URL``);
    tokens are valid for ``ttl`` from when the email is rendered.
    """

    def __init__(
        self,
        public_url: str,
        keys: KeyRing,
        clock: Callable[[], datetime],
        ttl: timedelta = timedelta(days=180),
    ) -> None:
        if not _KID.match(keys.active):
            raise ValueError(f"tracking key ids must match {_KID.pattern}: {keys.active!r}")
        self._base = public_url.rstrip("/")
        self._keys = keys
        self._clock = clock
        self._ttl = int(ttl.total_seconds())

    def token(self, kind: Kind, guid: str, url: str | None = None) -> str:
        """A signed token for an open, or a click through to ``url``."""
        payload: dict[str, object] = {
            "t": _CODES[kind],
            "g": guid,
            "x": int(self._clock().timestamp()) + self._ttl,
        }
        if url is not None:
            payload["u"] = url
        signed = f"{self._keys.active}.{b64url(canonical_json(payload))}"
        return f"{signed}.{self._keys.mac(self._keys.active, signed.encode())}"

    def pixel_url(self, guid: str) -> str:
        """The 1x1 image whose loading records an open."""
        return f"{self._base}/v1/t/o/{self.token('open', guid)}.gif"

    def click_url(self, guid: str, url: str) -> str:
        """Where a link to ``url`` points instead: Clarion records the click and redirects."""
        return f"{self._base}/v1/t/c/{self.token('click', guid, url)}"

    def link_rewriter(self, guid: str) -> Callable[[str], str]:
        """Maps a link of message ``guid`` to its click URL (web links only)."""

        def rewrite(url: str) -> str:
            return self.click_url(guid, url) if url.startswith(_TRACKABLE) else url

        return rewrite

    def verify(self, token: str, kind: Kind) -> Tracked:
        """What ``token`` records, if Clarion signed it for ``kind`` and it has not
        expired; raises ``TokenRejected``. The signature is checked first, so nothing
        in a forged token is ever believed."""
        kid, dot, rest = token.partition(".")
        payload, dot2, signature = rest.partition(".")
        if not (dot and dot2 and kid and payload and signature):
            raise TokenRejected("malformed", "expected <kid>.<payload>.<signature>")
        if not self._keys.knows(kid):
            raise TokenRejected("unknown_key", f"no key {kid!r}")
        if not self._keys.matches(kid, f"{kid}.{payload}".encode(), signature):
            raise TokenRejected("bad_signature")
        tracked = _decode(payload)
        if tracked.kind != kind:
            raise TokenRejected("malformed", f"a {tracked.kind} token, not a {kind} one")
        if self._clock().timestamp() >= tracked.expires_at:
            raise TokenRejected("expired")
        return tracked


def _decode(payload: str) -> Tracked:
    # Only ever called on payloads this service signed: a failure here means a
    # token format from another version, not an attack.
    try:
        data = orjson.loads(b64url_decode(payload))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise TokenRejected("malformed", str(exc)) from None
    if not isinstance(data, dict):
        raise TokenRejected("malformed", "expected an object")
    kind = next((k for k, code in _CODES.items() if code == data.get("t")), None)
    guid, expires, url = data.get("g"), data.get("x"), data.get("u")
    if (
        kind is None
        or not isinstance(guid, str)
        or isinstance(expires, bool)
        or not isinstance(expires, int)
        or (url is not None and not isinstance(url, str))
        or (kind == "click") != isinstance(url, str)
    ):
        raise TokenRejected("malformed", "unexpected payload")
    return Tracked(kind, guid, url, expires)
