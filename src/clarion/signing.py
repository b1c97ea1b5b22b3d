"""HMAC-SHA256 signatures under rotating keys, for anything a client hands back to us.

In-app feedback objects and email tracking links are both signed here: a
``KeyRing`` signs with its active key and verifies with any key still listed,
so a secret can be rotated without invalidating what is already out there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Final

import orjson

#: Shorter HMAC keys than the hash output weaken the MAC (RFC 2104, section 3).
MIN_KEY_BYTES: Final = 32


def b64url(data: bytes) -> str:
    """URL-safe base64 without padding: fits in URLs, headers and JSON alike."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of ``b64url`` text; raises ``ValueError`` when it is not that."""
    if not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: Mapping[str, object]) -> bytes:
    """Sorted keys, no whitespace: the same object always signs the same bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class KeyRing:
    """Secrets by key id (each at least ``MIN_KEY_BYTES``); ``active`` signs, all verify."""

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"the active key {active!r} is not among the keys")
        short = sorted(kid for kid, secret in keys.items() if len(secret) < MIN_KEY_BYTES)
        if short:
            raise ValueError(f"keys shorter than {MIN_KEY_BYTES} bytes: {', '.join(short)}")
        self._keys = dict(keys)
        self.active = active

    def knows(self, kid: str) -> bool:
        return kid in self._keys

    def mac(self, kid: str, data: bytes) -> str:
        """The signature of ``data`` under key ``kid`` (``KeyError`` if unknown), base64url."""
        return b64url(
            hmac.digest(self._keys[kid], data, hashlib.sha256)
        )  # one-shot: no HMAC object

    def matches(self, kid: str, data: bytes, signature: str) -> bool:
        """True when ``signature`` signs ``data`` under a known ``kid``; constant-time."""
        if kid not in self._keys:
            return False
        return hmac.compare_digest(self.mac(kid, data).encode(), signature.encode())
