"""Signed feedback objects: what a device receives opaque and posts back unchanged.

The object is the feedback body plus ``kid`` (which key signed it, so secrets
can rotate: sign with the active key, verify with any key still listed),
``expiresAt`` (epoch seconds: issued at + the body's ttl) and ``signature``:
HMAC-SHA256, base64url without padding, over the canonical JSON (sorted keys,
no whitespace) of every other member. A device can read the object but not
change a byte of it, nor keep using it after it expires.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final, Literal

import orjson

from clarion.core.tracking import FeedbackBody, FeedbackError
from clarion.signing import KeyRing, canonical_json

Reason = Literal["bad_signature", "expired", "malformed", "unknown_key"]
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
        self._ring = KeyRing(keys, active)
        self._clock = clock

    @property
    def active(self) -> str:
        """The id of the key that signs."""
        return self._ring.active

    def sign(self, body: FeedbackBody) -> dict[str, object]:
        """The opaque object for ``body``, valid for ``body.ttl`` seconds from now."""
        signed = body.to_json()
        signed["kid"] = self._ring.active
        signed["expiresAt"] = int(self._clock().timestamp()) + body.ttl
        signed["signature"] = self._ring.mac(self._ring.active, canonical_json(signed))
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
        if not self._ring.knows(kid):
            raise FeedbackRejected("unknown_key", f"no key {kid!r}")
        unsigned = {key: value for key, value in obj.items() if key != "signature"}
        try:
            signed = canonical_json(unsigned)
        except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
            raise FeedbackRejected("malformed", f"not canonical JSON: {exc}") from None
        if not self._ring.matches(kid, signed, signature):
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
