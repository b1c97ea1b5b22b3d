"""What the OpenAPI document says beyond the routes' own models: the one error body,
the error responses of each kind of route, and who must authenticate.

Routers declare the responses of their kind (``API_KEY``, ``DEVICE``, ...), routes add
what only they answer (``NOT_FOUND``, ``BODY``, ...), all with ``ErrorBody``, the body
``clarion.api.errors`` writes, in place of FastAPI's ``HTTPValidationError``. Which
security scheme a path requires is read from the rule the body guard enforces
(``clarion.api.guard.rule_for``), so the document cannot disagree with it.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI
from pydantic import BaseModel

from clarion.api.guard import rule_for
from clarion.config import Settings

Responses = dict[int | str, dict[str, Any]]


class ErrorField(BaseModel):
    """One bad field of a request: where it is (``events[3].type``) and what is wrong."""

    field: str
    problem: str


class ErrorBody(BaseModel):
    """Every error answer: a stable code, a sentence, and, for an invalid request,
    each bad field (absent otherwise)."""

    error: str
    message: str
    fields: list[ErrorField] | None = None


def _error(description: str, **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {"model": ErrorBody, "description": description}
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


INVALID: Final[Responses] = {
    422: _error("Invalid fields, query parameters or path parameters, each named in `fields`.")
}
UNAVAILABLE: Final[Responses] = {
    503: _error(
        "The database is unavailable: retry later (with the same event id).",
        **{"Retry-After": "Seconds to wait before retrying."},
    )
}
UNAUTHORIZED: Final[Responses] = {
    401: _error(
        "No valid credentials in `Authorization: Bearer ...`.",
        **{"WWW-Authenticate": "`Bearer`."},
    )
}
#: Routes with a request body: checked before it is read (``clarion.api.guard``).
BODY: Final[Responses] = {
    400: _error("The body is not valid JSON."),
    413: _error("The body is larger than this route's limit."),
}
NOT_FOUND: Final[Responses] = {404: _error("No such resource.")}
BAD_CURSOR: Final[Responses] = {400: _error("`cursor` is not one this endpoint returned.")}

#: Server-to-server routes (``Authorization: Bearer <API key>``).
API_KEY: Final[Responses] = {**UNAUTHORIZED, **INVALID, **UNAVAILABLE}
#: Device routes (``Authorization: Bearer <device token>``); 503 also when no
#: device secret is configured.
DEVICE: Final[Responses] = {**UNAUTHORIZED, **INVALID, **UNAVAILABLE}
#: Email tracking links: the token in the path is what authorizes them.
TRACKING: Final[Responses] = {
    400: _error("The token is malformed."),
    403: _error("The token's signature does not verify."),
    404: _error("Email tracking is not enabled."),
    410: _error("The token has expired."),
    **INVALID,
}
#: Provider callbacks, signed by the provider over the body.
CALLBACK: Final[Responses] = {
    403: _error("The provider's signature does not verify."),
    413: BODY[413],
    **INVALID,
    **UNAVAILABLE,
}
#: A device's feedback: what the service refuses about the feedback object.
FEEDBACK: Final[Responses] = {
    **BODY,
    403: _error("The feedback object's signature does not verify."),
    404: _error("The feedback names a message that is not this profile's."),
    410: _error("The feedback object has expired."),
}

SECURITY_SCHEMES: Final = {
    "ApiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A server-to-server API key (`CLARION_API_KEYS`).",
    },
    "DeviceToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A device token naming one profile, signed with a device secret.",
    },
}
_SCHEME: Final = {"api_key": "ApiKey", "device": "DeviceToken"}


def install(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` declare the security schemes, and each operation's."""
    generate = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            secure(generate(), settings)
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def secure(document: dict[str, Any], settings: Settings) -> None:
    """Declare the security schemes in ``document`` and the one each operation requires."""
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in document["paths"].items():
        scheme = _SCHEME.get(rule_for(path, settings).auth)
        if scheme is None:
            continue
        for operation in operations.values():
            operation["security"] = [{scheme: []}]
