"""Signed feedback objects: what a device receives opaque and posts back unchanged.

The object is the feedback body plus ``kid`` (which key signed it, so secrets
can rotate: sign with the active key, verify with any key still listed),
``expiresAt`` (epoch seconds: issued at + the body's ttl) and ``signature``:
HMAC-SHA256, base64url without padding, over the canonical JSON (sorted keys,
no whitespace) of every other member. A device can read the object but not
change a byte of it, nor keep using it after it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final, Literal

import orjson

from clarion.core.tracking import FeedbackBody, FeedbackError

Reason = Literal["bad_signature", "expired", "malformed", "unknown_key"]
#: Shorter HMAC keys than the hash output weaken the MAC (RFC 2104, section 3).
MIN_KEY_BYTES: Final = 32
_SIGNED_EXTRAS: Final = ("kid", "expiresAt")


class FeedbackRejected(Exception):
    """Feedback the service will not act on; ``reason`` says why, for logs and metrics."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason


class FeedbackSigner:
    """Signs feedback bodies with the ``active`` key and verifies objects signed with
    any key in ``keys`` (key id -> secret of at least 32 bytes)."""

    def __init__(
        self, keys: Mapping[str, bytes], active: str, clock: Callable[[], datetime]
    ) -> None:
        if active not in keys:
            raise ValueError(f"the active key {active!r} is not among the keys")
        short = sorted(kid for kid, secret in keys.items() if len(secret) < MIN_KEY_BYTES)
        if short:
            raise ValueError(f"keys shorter than {MIN_KEY_BYTES} bytes: {', '.join(short)}")
        self._keys = dict(keys)
        self._active = active
        self._clock = clock

    def sign(self, body: FeedbackBody) -> dict[str, object]:
        """The opaque object for ``body``, valid for ``body.ttl`` seconds from now."""
        signed = body.to_json()
        signed["kid"] = self._active
        signed["expiresAt"] = int(self._clock().timestamp()) + body.ttl
        signed["signature"] = _mac(self._keys[self._active], signed)
        return signed

    def verify(self, obj: object) -> FeedbackBody:
        """The body of an object this service signed; raises ``FeedbackRejected``.

        The signature is checked before anything else is believed, so an
        ``expired`` answer is only ever given for the service's own objects.
        """
        if not isinstance(obj, Mapping):
            raise FeedbackRejected("malformed", "expected an object")
        kid, signature = obj.get("kid"), obj.get("signature")
        if not isinstance(kid, str) or not isinstance(signature, str):
            raise FeedbackRejected("malformed", "kid and signature must be strings")
        secret = self._keys.get(kid)
        if secret is None:
            raise FeedbackRejected("unknown_key", f"no key {kid!r}")
        unsigned = {key: value for key, value in obj.items() if key != "signature"}
        try:
            expected = _mac(secret, unsigned)
        except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
            raise FeedbackRejected("malformed", f"not canonical JSON: {exc}") from None
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise FeedbackRejected("bad_signature")
        expires_at = unsigned.get("expiresAt")
        if isinstance(expires_at, bool) or not isinstance(expires_at, int):
            raise FeedbackRejected("malformed", "expiresAt must be an integer")
        if self._clock().timestamp() >= expires_at:
            raise FeedbackRejected("expired")
        body = {key: value for key, value in unsigned.items() if key not in _SIGNED_EXTRAS}
        try:
            return FeedbackBody.from_json(body)
        except FeedbackError as exc:
            raise FeedbackRejected("malformed", str(exc)) from None


def _mac(secret: bytes, unsigned: Mapping[str, object]) -> str:
    canonical = orjson.dumps(unsigned, option=orjson.OPT_SORT_KEYS)
    digest = hmac.digest(secret, canonical, hashlib.sha256)
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
