"""Authentication: server-to-server API keys, and devices' tokens.

Both are checked by the routes' dependencies and, for requests with a body,
again before the body is read (``clarion.api.guard``): one function each.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from fastapi import HTTPException, Request

from clarion.api.errors import error_body
from clarion.inapp import DeviceAuthenticator, DeviceAuthError


def api_key_matches(authorization: bytes, keys: Sequence[bytes]) -> bool:
    """Whether an ``Authorization`` header value carries one of ``keys`` as a bearer token."""
    scheme, _, token = authorization.partition(b" ")
    presented = token.strip()
    if scheme.lower() != b"bearer" or not presented:
        return False
    # Compare against every key so timing does not reveal which prefix matched.
    return any([hmac.compare_digest(presented, key) for key in keys])


def api_key_refused() -> HTTPException:
    return HTTPException(
        401,
        detail=error_body("unauthorized", "send a valid API key as 'Authorization: Bearer <key>'"),
        headers={"WWW-Authenticate": "Bearer"},
    )


def has_api_key(request: Request) -> bool:
    """True when the request carries one of the configured API keys."""
    keys: list[bytes] = request.app.state.api_keys
    header = request.headers.get("authorization", "")
    return api_key_matches(header.encode("latin-1"), keys)


async def require_api_key(request: Request) -> None:
    """Reject the request unless it carries one of the configured API keys."""
    if not has_api_key(request):
        raise api_key_refused()


def authenticate_device(authenticator: DeviceAuthenticator | None, authorization: str) -> str:
    """The profile a device token (an ``Authorization`` header value) names, or the
    HTTP error to answer: 401, or 503 when no device secret is configured."""
    scheme, _, token = authorization.partition(" ")
    if authenticator is None:
        raise HTTPException(
            503, detail=error_body("unavailable", "device tokens are not configured")
        )
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401,
            detail=error_body(
                "unauthorized", "send the device token as 'Authorization: Bearer <jwt>'"
            ),
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return authenticator.authenticate(token.strip()).profile_id
    except DeviceAuthError as exc:
        raise HTTPException(
            401,
            detail=error_body("unauthorized", f"device token rejected: {exc.reason}"),
            headers={"WWW-Authenticate": "Bearer"},
        ) from None
