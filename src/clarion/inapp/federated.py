"""Federated CTAs: a CTA whose action is a backend call is executed by Clarion itself,
so UI platforms need no integration of their own with the service behind it.

Each action is declared in configuration with its endpoint, timeout, retries,
signing secret and a fallback: what the device should do when the call cannot be
made.

Every call is a JSON POST signed as the webhook provider signs
(``Clarion-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, see
``clarion.channels.webhook``), so the backend knows it comes from Clarion, and
carries an ``Idempotency-Key`` derived from the feedback object (the same on each
retry), so the backend can drop a retry of a call it already carried out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, PositiveFloat, SecretStr

from clarion.channels.webhook import SIGNATURE_HEADER, signature_header
from clarion.observability import get_logger
from clarion.signing import MIN_KEY_BYTES

log = get_logger("clarion.federated")


class FederatedAction(BaseModel):
    """How to carry out one BACKEND action (``federated_actions`` in the settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: HttpUrl
    #: Signs every call (``Clarion-Signature``); the backend checks it with the same secret.
    secret: SecretStr = Field(min_length=MIN_KEY_BYTES)
    timeout: PositiveFloat = 2.0
    retries: int = Field(default=1, ge=0, le=5)
    backoff: float = Field(default=0.2, ge=0)
    #: The action the device should take instead when the call fails (e.g. a
    #: REDIRECT to the flow where the member can do it by hand); None: nothing.
    fallback: str | None = None


@dataclass(frozen=True, slots=True)
class FederatedResult:
    """What came of a federated call; ``fallback`` is set when it failed."""

    ok: bool
    attempts: int
    status: int | None = None
    fallback: str | None = None
    error: str | None = None

    def effects(self, action: str) -> list[str]:
        if self.ok:
            return [f"federated:{action}:ok"]
        return [
            f"federated:{action}:failed",
            *([f"fallback:{self.fallback}"] if self.fallback else []),
        ]


class FederatedCaller:
    """Calls the declared endpoint of a BACKEND action, with timeout and retries."""

    def __init__(
        self,
        actions: Mapping[str, FederatedAction],
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._actions = dict(actions)
        self._client = client or httpx.Client()
        self._clock = clock

    def call(
        self, action: str, payload: Mapping[str, object], idempotency_key: str
    ) -> FederatedResult:
        """POST ``payload`` to the action's endpoint; 2xx is success, 5xx/timeouts retry.

        Every attempt carries ``idempotency_key`` and is signed afresh (the signed
        time must be recent when the backend checks it)."""
        spec = self._actions.get(action)
        if spec is None:
            return FederatedResult(False, 0, error="not_configured")
        body = orjson.dumps(dict(payload))
        secret = spec.secret.get_secret_value()
        attempts, status, error = 0, None, None
        while attempts <= spec.retries:
            attempts += 1
            headers = {
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key,
                SIGNATURE_HEADER: signature_header(secret, int(self._clock()), body),
            }
            try:
                response = self._client.post(
                    str(spec.url), content=body, headers=headers, timeout=spec.timeout
                )
            except httpx.TimeoutException:
                status, error = None, "timeout"
            except httpx.TransportError:
                status, error = None, "connection_error"
            else:
                status = response.status_code
                if response.is_success:
                    return FederatedResult(True, attempts, status)
                error = f"http_{status}"
                if status < 500 and status not in (408, 429):
                    break  # the backend refused: retrying will not change its mind
            if attempts <= spec.retries:
                time.sleep(spec.backoff * attempts)
        log.warning("federated_call_failed", action=action, attempts=attempts, error=error)
        return FederatedResult(False, attempts, status, spec.fallback, error)

    def close(self) -> None:
        self._client.close()
