"""The webhook provider tells a failure after its request went out (the receiver
may have acted on it) from one before or without it."""

import asyncio
import socket

import pytest

from clarion.channels.base import ErrorScope, TransientError
from clarion.channels.webhook import WebhookProvider
from tests.integration.fault_endpoint import DROPPED, LATE, REFUSED, Faults, FaultyEndpoint, serving
from tests.integration.test_webhook import outgoing


def _key_failing_as(endpoint: FaultyEndpoint, outcome: str) -> str:
    # Outcomes are seeded per key: find a key whose first request fails this way.
    return next(f"k{i}" for i in range(1000) if endpoint._outcome(f"k{i}", 1) == outcome)


def _send(url: str, secret: str, guid: str) -> TransientError:
    async def go() -> TransientError:
        provider = WebhookProvider(url, secret, timeout=0.3)
        try:
            with pytest.raises(TransientError) as caught:
                await provider.send(outgoing(guid=guid))
            return caught.value
        finally:
            await provider.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("outcome", "code", "unconfirmed"),
    [(DROPPED, "connection_error", True), (LATE, "timeout", True), (REFUSED, "http_503", False)],
)
def test_failures_after_the_request_went_out_are_unconfirmed(
    outcome: str, code: str, unconfirmed: bool
) -> None:
    with serving(FaultyEndpoint(Faults(rate=1.0, late_seconds=0.6))) as endpoint:
        key = _key_failing_as(endpoint, outcome)
        error = _send(endpoint.url, endpoint.secret, key)
        assert endpoint.applied[key] == (1 if unconfirmed else 0)  # it did act on it
    assert (error.code, error.unconfirmed, error.scope) == (code, unconfirmed, ErrorScope.PROVIDER)


def test_a_refused_connection_is_confirmed_unsent() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = _send(f"http://127.0.0.1:{port}/hook", "s", "k")
    assert (error.code, error.unconfirmed) == ("connection_error", False)
