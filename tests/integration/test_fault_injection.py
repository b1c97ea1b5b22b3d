"""Effectively once under injected faults (issue 4, item 6): thousands of messages
through the whole pipeline and the webhook provider to an endpoint that fails 5%
of requests transiently, some of them after it had already processed them.

With an endpoint that deduplicates on ``Idempotency-Key`` every message arrives
exactly once. With one that does not, the duplicates that arrive are exactly
those the lifecycle log marks as possible: a send after an unconfirmed attempt.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clarion.channels.provider_config import WebhookConfig
from clarion.channels.webhook import WebhookProvider
from clarion.runtime.clock import system_clock
from tests.integration.delivery_support import (
    ALL_CHANNELS,
    Stored,
    add_profiles,
    load,
    retries,
    send_events,
    wait_settled,
)
from tests.integration.fault_endpoint import (
    DROPPED,
    LATE,
    REFUSED,
    REPLAYED,
    Faults,
    FaultyEndpoint,
    serving,
)
from tests.integration.pipeline_support import running, settings_for

TIMEOUT_S = 2.0  # the client's; a late answer comes after 2.5 s
BASE_S = 0.02  # retry delays: [0.01, 0.02) s after the first failure, then doubling


def _events(db_url: str) -> int:
    # 2,000 messages on SQLite; PostgreSQL proves the same on 200 to stay quick.
    return 500 if db_url.startswith("sqlite") else 50


def test_a_deduplicating_endpoint_gets_every_message_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    events = _events(db_url)
    with serving(FaultyEndpoint(Faults(rate=0.05, seed=7))) as endpoint:
        hook = WebhookConfig(url=endpoint.url, secret=endpoint.secret, timeout=TIMEOUT_S)
        settings = settings_for(
            db_url,
            tmp_path,
            providers={"hook": hook},
            routes=dict.fromkeys(ALL_CHANNELS, "hook"),
            retry_base_seconds=BASE_S,
            retry_cap_seconds=5.0,
            # Fewer connections than the default 256: on a busy machine a storm of
            # connects can outlast the client's timeout (still correct, but slow).
            dispatcher_concurrency=32,
            dispatcher_batch=1000,
        )
        with running(settings, clock=system_clock) as (client, service):
            send_events(client, add_profiles(client, 10), events)
            wait_settled(service, 4 * events)
            stored = load(service)

    assert len(stored.status) == 4 * events
    assert set(stored.status.values()) == {"sent"}
    # Exactly once at the endpoint, for every message, though requests were repeated.
    assert set(endpoint.applied) == set(stored.status)
    assert set(endpoint.applied.values()) == {1}
    assert endpoint.bad_signatures == 0
    outcomes = endpoint.outcomes()
    assert outcomes[REPLAYED] > 0 and outcomes[DROPPED] + outcomes[LATE] > 0, outcomes
    # One request per attempt: every failure was retried, and nothing else was sent.
    assert endpoint.seen == stored.attempts
    _check_backoff(stored, events)


def _check_backoff(stored: Stored, events: int) -> None:
    retried = {g for g, n in stored.attempts.items() if n > 1}
    # About 5% of messages failed at least once (seeded; a very busy machine may
    # add client timeouts, which are retried like any other failure).
    assert 0.02 * 4 * events <= len(retried) <= 0.25 * 4 * events, len(retried)
    for guid in retried:
        timeline = stored.entries(guid)
        delays = [delay for delay, _ in retries(timeline)]
        assert len(delays) == stored.attempts[guid] - 1
        # Capped exponential backoff with equal jitter: attempt n waits within
        # [0.5, 1) x base x 2^(n-1), so each wait is longer than the one before ...
        for n, delay in enumerate(delays, start=1):
            assert 0.5 * BASE_S * 2 ** (n - 1) <= delay < BASE_S * 2**n, (guid, delays)
        assert delays == sorted(delays)
        # ... and no retry was claimed before its time (timestamps are stored as
        # floats: allow for their rounding).
        assert all(early > -1e-3 for _, early in retries(timeline)), timeline
    if len(retried) > 40:  # the SQLite run: some message needed three attempts or more
        assert max(stored.attempts.values()) >= 3


class NoKeyWebhook(WebhookProvider):
    """A webhook whose receiver ignores idempotency keys, like an SMS API without them."""

    idempotent = False


def test_without_deduplication_only_marked_sends_can_arrive_twice(
    db_url: str, tmp_path: Path
) -> None:
    events = _events(db_url)
    faults = Faults(rate=0.05, seed=11, deduplicate=False)
    with serving(FaultyEndpoint(faults)) as endpoint:
        hook = NoKeyWebhook(endpoint.url, endpoint.secret, name="hook", timeout=TIMEOUT_S)
        settings = settings_for(
            db_url,
            tmp_path,
            routes=dict.fromkeys(ALL_CHANNELS, "hook"),
            retry_base_seconds=BASE_S,
            retry_cap_seconds=5.0,
            # Fewer connections than the default 256: on a busy machine a storm of
            # connects can outlast the client's timeout (still correct, but slow).
            dispatcher_concurrency=32,
            dispatcher_batch=1000,
        )
        with running(settings, clock=system_clock, providers={"hook": hook}) as (client, svc):
            send_events(client, add_profiles(client, 10), events)
            wait_settled(svc, 4 * events)
            stored = load(svc)
        pytest.importorskip("asyncio").run(hook.aclose())

    assert set(stored.status.values()) == {"sent"}
    assert set(endpoint.applied) == set(stored.status)
    duplicated = {g: n for g, n in endpoint.applied.items() if n > 1}
    assert duplicated, "the seed should make some sends arrive twice"
    for guid, attempts in stored.attempts.items():
        recorded = stored.entries(guid, "attempt")
        # Every call was recorded before it was made ...
        assert [e.detail["attempt"] for e in recorded] == list(range(1, attempts + 1))
        marked = [e for e in recorded if e.detail.get("possible_duplicate")]
        # ... a repeat arrives only where the log says it may ...
        assert endpoint.applied[guid] - 1 <= len(marked), (guid, stored.entries(guid))
        # ... and the log says so only after an attempt whose fate was unknown.
        unconfirmed = [e for e in stored.entries(guid, "retrying") if e.detail.get("unconfirmed")]
        assert len(marked) == len(unconfirmed)
    outcomes = endpoint.outcomes()
    # A 503 is a confirmed refusal: retrying it is never marked.
    assert outcomes[REFUSED] > 0
