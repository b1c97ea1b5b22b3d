"""Device tokens: an HS256 JWT, signed by the customer's backend, naming one profile.

The customer's backend, which knows who is logged in, issues each app a token
with ``sub`` = the profile id and an ``exp``; Clarion shares the secret (by key
id ``kid``, so secrets can rotate; a token without ``kid`` uses ``default``). A
device can read and act on that profile's messages and nothing else.

Only HS256 is accepted: the algorithm is fixed by configuration, never taken
from the token, which rules out ``alg: none`` and algorithm confusion.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import jwt
import orjson

from clarion.signing import b64url_decode

Reason = Literal[
    "malformed",
    "bad_algorithm",
    "unknown_key",
    "bad_signature",
    "bad_audience",
    "missing_claim",
    "expired",
    "not_yet_valid",
]
ALGORITHM: Final = "HS256"
DEFAULT_KID: Final = "default"
#: RFC 7518 section 3.2: an HS256 key is at least as long as the hash output.
MIN_SECRET_BYTES: Final = 32
#: Device clocks drift; a token is not refused for being a few seconds early or late.
DEFAULT_LEEWAY: Final = timedelta(seconds=30)
#: Far longer than any real token; longer input is refused before any parsing.
MAX_TOKEN_LENGTH: Final = 4096
#: How many verified tokens an authenticator remembers (a device sends the same
#: token on every fetch until it expires).
DEFAULT_CACHE_SIZE: Final = 16_384


class DeviceAuthError(Exception):
    """A token that does not authenticate a device; ``reason`` says why (for logs)."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """The profile a device acts for, and the token's ``jti`` when it has one."""

    profile_id: str
    token_id: str | None = None


#: A verified token's identity and its ``exp``, ``nbf`` and ``iat`` claims.
_Verified = tuple[DeviceIdentity, dict[str, object]]


class DeviceAuthenticator:
    """Checks device tokens against shared secrets (key id -> secret).

    ``audience``, when set, must be among the token's ``aud``; when ``None`` the
    ``aud`` claim is not checked.

    Tokens whose signature and claims verified are remembered (at most
    ``cache_size``, keyed by the whole token string, the oldest forgotten
    first), so a device's next fetch skips the JWT parsing and HMAC. The
    times are checked again against the clock on every use, so a remembered
    token stops working exactly when it expires. Secrets and audience are
    fixed for the authenticator's life, which keeps what was verified valid.
    """

    def __init__(
        self,
        secrets: Mapping[str, bytes],
        audience: str | None,
        clock: Callable[[], datetime],
        leeway: timedelta = DEFAULT_LEEWAY,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        _check_secrets(secrets)
        self._secrets = dict(secrets)
        self._audience = audience
        self._clock = clock
        self._leeway = leeway.total_seconds()
        self._cache: dict[str, _Verified] = {}
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def authenticate(self, token: str) -> DeviceIdentity:
        """The identity ``token`` proves; raises ``DeviceAuthError``."""
        known = self._cache.get(token) if isinstance(token, str) else None
        if known is not None:
            self._check_times(known[1])
            return known[0]
        identity, times = self._verify(token)
        if self._cache_size > 0:
            with self._cache_lock:
                while len(self._cache) >= self._cache_size:
                    del self._cache[next(iter(self._cache))]
                self._cache[token] = (identity, times)
        return identity

    def remembers(self, token: str) -> bool:
        """Whether ``token`` is among the verified tokens remembered."""
        return token in self._cache

    @property
    def remembered(self) -> int:
        """How many verified tokens are remembered."""
        return len(self._cache)

    def _verify(self, token: str) -> _Verified:
        """Signature, algorithm, audience, claims and times of a token not seen before."""
        secret = self._secret(token)
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                # Times are checked below against the injected clock, not time.time().
                options={
                    "require": ["exp", "sub"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": self._audience is not None,
                },
            )
        except jwt.InvalidSignatureError:
            raise DeviceAuthError("bad_signature") from None
        except jwt.MissingRequiredClaimError as exc:
            # A token without ``aud`` for a service that expects one has the wrong audience.
            reason: Reason = "bad_audience" if exc.claim == "aud" else "missing_claim"
            raise DeviceAuthError(reason, exc.claim) from None
        except jwt.InvalidAudienceError:
            raise DeviceAuthError("bad_audience") from None
        except jwt.InvalidAlgorithmError:
            raise DeviceAuthError("bad_algorithm") from None
        except jwt.InvalidTokenError as exc:
            raise DeviceAuthError("malformed", str(exc)) from None
        times = {name: claims.get(name) for name in ("exp", "nbf", "iat")}
        self._check_times(times)
        subject, token_id = claims["sub"], claims.get("jti")
        if not isinstance(subject, str) or not subject:
            raise DeviceAuthError("malformed", "sub must name a profile")
        return DeviceIdentity(subject, token_id if isinstance(token_id, str) else None), times

    def _secret(self, token: str) -> bytes:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise DeviceAuthError("malformed", "not a token")
        header = _peek_header(token)
        if header.get("alg") != ALGORITHM:
            raise DeviceAuthError("bad_algorithm", f"only {ALGORITHM} is accepted")
        kid = header.get("kid", DEFAULT_KID)
        if not isinstance(kid, str):
            raise DeviceAuthError("malformed", "kid must be a string")
        secret = self._secrets.get(kid)
        if secret is None:
            raise DeviceAuthError("unknown_key", f"no secret {kid!r}")
        return secret

    def _check_times(self, claims: Mapping[str, object]) -> None:
        now = self._clock().timestamp()
        times = {name: claims.get(name) for name in ("exp", "nbf", "iat")}
        for name, value in times.items():
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise DeviceAuthError("malformed", f"{name} must be a number")
        exp, nbf, iat = times.values()
        assert isinstance(exp, int | float)  # required and checked above
        if now >= exp + self._leeway:
            raise DeviceAuthError("expired")
        if isinstance(nbf, int | float) and now < nbf - self._leeway:
            raise DeviceAuthError("not_yet_valid")
        if isinstance(iat, int | float) and now < iat - self._leeway:
            raise DeviceAuthError("not_yet_valid", "issued in the future")


def _peek_header(token: str) -> Mapping[str, object]:
    """The token's header, read only to pick the secret: ``jwt.decode`` reads and
    checks it again with that secret (``jwt.get_unverified_header`` costs a third
    of a verification, since it decodes every segment)."""
    head, dot, _ = token.partition(".")
    try:
        if not dot:
            raise ValueError("not enough segments")
        header = orjson.loads(b64url_decode(head))
    except ValueError as exc:  # binascii.Error and orjson's error are ValueErrors
        raise DeviceAuthError("malformed", f"unreadable header: {exc}") from None
    if not isinstance(header, dict):
        raise DeviceAuthError("malformed", "the header must be a JSON object")
    return header


def issue_device_token(
    secret: bytes,
    profile_id: str,
    ttl: timedelta,
    kid: str | None = None,
    *,
    now: datetime | None = None,
    audience: str | None = None,
    token_id: str | None = None,
) -> str:
    """A device token for ``profile_id``, as a customer's backend would issue it.

    For tests, docs and demos; a real backend uses its own JWT library.
    """
    _check_secrets({kid or DEFAULT_KID: secret})
    issued = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": profile_id,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    if audience is not None:
        claims["aud"] = audience
    if token_id is not None:
        claims["jti"] = token_id
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers=headers)


def _check_secrets(secrets: Mapping[str, bytes]) -> None:
    short = sorted(kid for kid, secret in secrets.items() if len(secret) < MIN_SECRET_BYTES)
    if short:
        raise ValueError(f"secrets shorter than {MIN_SECRET_BYTES} bytes: {', '.join(short)}")
