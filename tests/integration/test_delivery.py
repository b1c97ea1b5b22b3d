"""Provider failover, rate limits and Retry-After, and the attempt log around a
crash, through the dispatcher on SQLite and PostgreSQL (docs/delivery.md)."""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from clarion.channels.base import ErrorScope, Outgoing, PermanentError, Receipt, TransientError
from clarion.channels.registry import RateLimitConfig, WebhookConfig
from clarion.core.model import Channel, Event, Profile
from clarion.runtime.clock import system_clock
from clarion.runtime.dispatcher import Dispatcher
from clarion.runtime.orchestrator import Orchestrator
from clarion.runtime.ratelimit import RateLimits
from clarion.service import Service
from clarion.store.records import MessageQuery
from tests.integration.delivery_support import (
    ALL_CHANNELS,
    PAYMENT,
    add_profiles,
    load,
    send_events,
    wait_settled,
)
from tests.integration.fault_endpoint import Faults, FaultyEndpoint, serving
from tests.integration.pipeline_support import (
    EXAMPLE_CATALOG,
    FakeClock,
    ScriptedProvider,
    running,
    settings_for,
)


def _ok(message: Outgoing) -> Receipt:
    return Receipt(provider="backup", ref=f"ref-{message.guid[:6]}")


def _sms_only(error: Exception) -> ScriptedProvider:
    def script(message: Outgoing) -> Receipt:
        raise error

    return ScriptedProvider(script, name="main")


def _catalog_with_sms_route(tmp_path: Path, route: str) -> Path:
    """The example catalog, with payment_failed's SMS step naming its own providers."""
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    path = catalog / "messages" / "payment_failed.yaml"
    text = path.read_text()
    sms = "  - channel: sms\n"
    assert text.count(sms) == 1
    path.write_text(text.replace(sms, f"{sms}    provider: {route}\n"))
    return catalog


def _sms(service: Service) -> str:
    [sms] = service.store.list_messages(MessageQuery("p0", channel=Channel.SMS))
    return sms.guid


def test_a_provider_level_rejection_fails_over_to_the_next_provider(
    db_url: str, tmp_path: Path
) -> None:
    main = _sms_only(PermanentError("http_401", "bad credentials", scope=ErrorScope.PROVIDER))
    backup = ScriptedProvider(_ok, name="backup")
    catalog = _catalog_with_sms_route(tmp_path, "[main, backup]")  # a catalog step's own route
    settings = settings_for(
        db_url, tmp_path, catalog=catalog, routes=dict.fromkeys(ALL_CHANNELS, "backup")
    )
    with running(settings, system_clock, {"main": main, "backup": backup}) as (client, service):
        send_events(client, add_profiles(client, 1), 1)
        wait_settled(service, 4)
        guid = _sms(service)
        record = service.store.get_message(guid)
        timeline = service.store.timeline(guid)
    assert record is not None and record.channel.value == "sms"
    assert (record.status.value, record.provider, record.attempts) == ("sent", "backup", 2)
    assert [m.guid for m in main.calls] == [guid]
    [failover] = [e for e in timeline if e.reason == "failover:http_401"]
    assert failover.status.value == "scheduled"
    assert {k: failover.detail[k] for k in ("from", "to", "code")} == {
        "from": "main",
        "to": "backup",
        "code": "http_401",
    }


def test_an_address_level_rejection_does_not_fail_over(db_url: str, tmp_path: Path) -> None:
    main = _sms_only(PermanentError("21211", "invalid 'To' phone number"))
    backup = ScriptedProvider(_ok, name="backup")
    routes = {**dict.fromkeys(ALL_CHANNELS, "backup"), "sms": ["main", "backup"]}
    settings = settings_for(db_url, tmp_path, routes=routes)
    with running(settings, system_clock, {"main": main, "backup": backup}) as (client, service):
        send_events(client, add_profiles(client, 1), 1)
        wait_settled(service, 4)
        [guid] = [m.guid for m in main.calls]
        record = service.store.get_message(guid)
    assert record is not None
    assert (record.status.value, record.reason) == ("failed", "provider_rejected:21211")
    assert guid not in {m.guid for m in backup.calls}


def test_transient_errors_fail_over_after_the_providers_attempts(
    db_url: str, tmp_path: Path
) -> None:
    main = _sms_only(TransientError("http_503"))
    backup = ScriptedProvider(_ok, name="backup")
    routes = {**dict.fromkeys(ALL_CHANNELS, "backup"), "sms": ["main", "backup"]}
    settings = settings_for(db_url, tmp_path, routes=routes, failover_after_attempts=2)
    with running(settings, system_clock, {"main": main, "backup": backup}) as (client, service):
        send_events(client, add_profiles(client, 1), 1)
        wait_settled(service, 4)
        guid = main.calls[0].guid
        record = service.store.get_message(guid)
        reasons = [e.reason for e in service.store.timeline(guid) if e.status.value == "scheduled"]
    assert [m.attempt for m in main.calls] == [1, 2]
    assert record is not None and (record.status.value, record.attempts) == ("sent", 3)
    assert reasons[1:] == ["retrying:http_503", "failover:http_503"]


def test_a_burst_never_exceeds_the_providers_rate_limit(db_url: str, tmp_path: Path) -> None:
    per_second, burst, events = 40.0, 5, 30
    with serving(FaultyEndpoint(Faults(rate=0.0))) as endpoint:
        hook = WebhookConfig(
            url=endpoint.url,
            secret=endpoint.secret,
            rate_limit=RateLimitConfig(per_second=per_second, burst=burst),
        )
        settings = settings_for(
            db_url, tmp_path, providers={"hook": hook}, routes=dict.fromkeys(ALL_CHANNELS, "hook")
        )
        with running(settings, clock=system_clock) as (client, service):
            send_events(client, add_profiles(client, 3), events)
            wait_settled(service, 4 * events, timeout=120)
            stored = load(service)
    arrivals = sorted(a.at for a in endpoint.arrivals)
    assert len(arrivals) == 4 * events
    for window in (0.05, 0.25, 1.0):
        allowed = burst + per_second * window + 1  # + 1: the scheduler's jitter
        busiest = max(
            sum(1 for t in arrivals[i:] if t < start + window) for i, start in enumerate(arrivals)
        )
        assert busiest <= allowed, (window, busiest, allowed)
    # It really was held back: 120 sends at 40/s after a burst of 5 take ~2.9 s.
    assert arrivals[-1] - arrivals[0] >= 0.9 * (len(arrivals) - burst) / per_second
    # Messages past the wait allowed in a batch were rescheduled for their slot,
    # and gave the claim's attempt back.
    deferred = [g for g in stored.status if stored.entries(g, "rate_limited")]
    assert deferred
    assert all(stored.attempts[g] == 1 for g in deferred)


@dataclass
class Timed:
    """Answers the first call with 429 and a Retry-After; records when it was called."""

    retry_after: float
    name: str = "timed"
    idempotent: bool = True
    calls: list[tuple[float, str]] = field(default_factory=list)

    async def send(self, message: Outgoing) -> Receipt:
        self.calls.append((time.monotonic(), message.guid))
        if len(self.calls) == 1:
            raise TransientError("http_429", retry_after=self.retry_after)
        return Receipt(provider=self.name, ref=None)

    async def aclose(self) -> None:
        return None


def test_retry_after_pauses_the_provider_and_reschedules_no_earlier(
    db_url: str, tmp_path: Path
) -> None:
    provider = Timed(retry_after=1.0)
    settings = settings_for(
        db_url,
        tmp_path,
        routes=dict.fromkeys(ALL_CHANNELS, "timed"),
        dispatcher_concurrency=1,  # one call at a time: the 429 comes before the others
        rate_limit_max_wait_seconds=0.2,  # shorter than the pause: the others are deferred
    )
    with running(settings, system_clock, {"timed": provider}) as (client, service):
        send_events(client, add_profiles(client, 1), 2)
        wait_settled(service, 8)
        stored = load(service)
    (first, refused), *later = provider.calls
    assert later and all(at >= first + 1.0 for at, _ in later), provider.calls
    retry = stored.entries(refused, "retrying:http_429")
    assert [e.detail["retry_in"] for e in retry] == [1.0]
    assert stored.attempts[refused] == 2
    deferred = [g for g in stored.status if stored.entries(g, "rate_limited")]
    assert len(deferred) == 7  # the rest of the batch, rescheduled for the end of the pause
    assert all(stored.attempts[g] == 1 for g in deferred)


class Crash(BaseException):
    """The process dies in the middle of a provider call."""


@dataclass
class Recording:
    name: str
    idempotent: bool
    crash: bool = False
    calls: list[str] = field(default_factory=list)

    async def send(self, message: Outgoing) -> Receipt:
        self.calls.append(message.guid)
        if self.crash:
            raise Crash
        return Receipt(provider=self.name, ref=None, delivered=True)

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("idempotent", [False, True], ids=["no-keys", "keys"])
def test_a_crash_in_a_call_shows_as_a_possible_duplicate_only_without_keys(
    db_url: str, tmp_path: Path, idempotent: bool
) -> None:
    clock = FakeClock()
    settings = settings_for(db_url, tmp_path, run_workers=False)
    service = Service(settings, clock=clock)
    try:
        store, catalog = service.store, service.catalog
        store.upsert_profile(Profile("ana", email="ana@example.com"), clock())
        event = Event("e1", "payment.failed", "ana", clock(), dict(PAYMENT))
        store.accept_events([event], clock())
        Orchestrator(store, lambda: catalog.current, clock, "orchestrator").run_once()

        def dispatcher(provider: Recording, owner: str) -> Dispatcher:
            routes = {channel: ["p"] for channel in ALL_CHANNELS}
            return Dispatcher(
                store,
                lambda: catalog.current,
                {"p": provider},
                routes,
                clock,
                owner,
                limits=RateLimits(),
            )

        dying = Recording("p", idempotent, crash=True)
        with pytest.raises(Crash):
            asyncio.run(dispatcher(dying, "a").run_once())
        clock.advance(timedelta(minutes=2))  # past the lease: the next claim takes over
        healthy = Recording("p", idempotent)
        asyncio.run(dispatcher(healthy, "b").run_once())
        assert dying.calls and set(dying.calls) <= set(healthy.calls)
        timelines = [store.timeline(guid) for guid in dying.calls]
    finally:
        asyncio.run(service.stop())
    for timeline in timelines:
        attempts = [e for e in timeline if e.reason == "attempt"]
        flagged = [e for e in timeline if e.detail.get("possible_duplicate")]
        assert timeline[-1].status.value == "delivered"
        if idempotent:
            # The provider deduplicates on the guid: nothing to record, nothing to flag.
            assert attempts == [] and flagged == []
            continue
        assert [(e.detail["attempt"], e.detail.get("possible_duplicate")) for e in attempts] == [
            (1, None),
            (2, True),
        ]
        assert timeline[-1].detail["possible_duplicate"] is True
