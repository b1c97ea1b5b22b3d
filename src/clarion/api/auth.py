"""Server-to-server authentication: ``Authorization: Bearer <api key>``."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from clarion.api.errors import error_body


def has_api_key(request: Request) -> bool:
    """True when the request carries one of the configured API keys."""
    keys: list[bytes] = request.app.state.api_keys
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    presented = token.strip().encode()
    # Compare against every key so timing does not reveal which prefix matched.
    return any([hmac.compare_digest(presented, key) for key in keys])


async def require_api_key(request: Request) -> None:
    """Reject the request unless it carries one of the configured API keys."""
    if has_api_key(request):
        return
    raise HTTPException(
        401,
        detail=error_body("unauthorized", "send a valid API key as 'Authorization: Bearer <key>'"),
        headers={"WWW-Authenticate": "Bearer"},
    )
