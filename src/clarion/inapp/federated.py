"""Federated CTAs: a CTA whose action is a backend call is executed by Clarion itself,
so UI platforms need no integration of their own with the service behind it.

Each action is declared in configuration with its endpoint, timeout, retries and
a fallback: what the device should do when the call cannot be made.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, PositiveFloat

from clarion.observability import get_logger

log = get_logger("clarion.federated")


class FederatedAction(BaseModel):
    """How to carry out one BACKEND action (``federated_actions`` in the settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: HttpUrl
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
        self, actions: Mapping[str, FederatedAction], client: httpx.Client | None = None
    ) -> None:
        self._actions = dict(actions)
        self._client = client or httpx.Client()

    def call(self, action: str, payload: Mapping[str, object]) -> FederatedResult:
        """POST ``payload`` to the action's endpoint; 2xx is success, 5xx/timeouts retry."""
        spec = self._actions.get(action)
        if spec is None:
            return FederatedResult(False, 0, error="not_configured")
        attempts, status, error = 0, None, None
        while attempts <= spec.retries:
            attempts += 1
            try:
                response = self._client.post(
                    str(spec.url), json=dict(payload), timeout=spec.timeout
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
