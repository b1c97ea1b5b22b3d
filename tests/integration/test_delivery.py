"""Provider failover, rate limits and Retry-After, and the attempt log around a
crash, through the dispatcher on SQLite and PostgreSQL (docs/delivery.md)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from clarion.channels.base import ErrorScope, Outgoing, PermanentError, Receipt, TransientError
from clarion.channels.provider_config import InAppConfig, RateLimitConfig, WebhookConfig
from clarion.core.model import Channel, Event, Profile
from clarion.observability import REGISTRY
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
    labels = {
        "channel": "sms",
        "from_provider": "main",
        "to_provider": "backup",
        "code": "http_401",
    }
    before = REGISTRY.get_sample_value("clarion_failovers_total", labels) or 0.0
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
    assert REGISTRY.get_sample_value("clarion_failovers_total", labels) == before + 1


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


def _busiest(times: list[float], window: float) -> int:
    """The most sends within any ``window`` seconds."""
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + window) for i, start in enumerate(times))


@dataclass
class Clocked:
    """Accepts everything; records when each call was made."""

    name: str = "clocked"
    idempotent: bool = True
    channels: frozenset[Channel] = frozenset(Channel)
    calls: list[float] = field(default_factory=list)

    async def send(self, message: Outgoing) -> Receipt:
        self.calls.append(time.monotonic())
        return Receipt(provider=self.name)

    async def aclose(self) -> None:
        return None


def test_a_burst_never_exceeds_the_providers_rate_limit(db_url: str, tmp_path: Path) -> None:
    per_second, burst, events = 50.0, 5, 30
    provider = Clocked()
    limited = InAppConfig(rate_limit=RateLimitConfig(per_second=per_second, burst=burst))
    settings = settings_for(
        db_url,
        tmp_path,
        providers={"clocked": limited},  # the limit is configured under the provider's name
        routes=dict.fromkeys(ALL_CHANNELS, "clocked"),
    )
    with running(settings, system_clock, {"clocked": provider}) as (client, service):
        send_events(client, add_profiles(client, 3), events)
        wait_settled(service, 4 * events, timeout=120)
        stored = load(service)
    assert len(provider.calls) == 4 * events
    for window in (0.02, 0.1, 0.5, 1.0):
        # + 1: the clock is read a moment after the send is admitted.
        assert _busiest(provider.calls, window) <= burst + per_second * window + 1, window
    # It really was held back: 120 sends at 50/s after a burst of 5 take 2.3 s.
    calls = sorted(provider.calls)
    assert calls[-1] - calls[0] >= 0.95 * (len(calls) - burst) / per_second
    # Messages past the wait allowed in a batch were rescheduled for their slot,
    # and gave the claim's attempt back.
    deferred = [g for g in stored.status if stored.entries(g, "rate_limited")]
    assert deferred
    assert all(stored.attempts[g] == 1 for g in deferred)


def test_a_rate_limited_webhook_holds_its_rate_at_the_receiver(db_url: str, tmp_path: Path) -> None:
    per_second, burst, events = 40.0, 5, 20
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
    arrivals = [a.at for a in endpoint.arrivals]
    assert len(arrivals) == 4 * events
    for window in (0.25, 1.0):
        # + 2: requests can bunch on their way through a busy machine's sockets.
        assert _busiest(arrivals, window) <= burst + per_second * window + 2, window


@dataclass
class Timed:
    """Answers the first call with 429 and a Retry-After; records when it was called."""

    retry_after: float
    name: str = "timed"
    idempotent: bool = True
    channels: frozenset[Channel] = frozenset(Channel)
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
    """Records each call; crashes the process in it, or fails with ``errors`` first."""

    name: str
    idempotent: bool
    crash: bool = False
    errors: list[TransientError] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    channels: frozenset[Channel] = frozenset(Channel)

    async def send(self, message: Outgoing) -> Receipt:
        self.calls.append(message.guid)
        if self.crash:
            raise Crash
        if self.errors:
            raise self.errors.pop(0)
        return Receipt(provider=self.name, ref=None, delivered=True)

    async def aclose(self) -> None:
        return None


@dataclass
class OneMessage:
    """A store holding one email message due now, and dispatchers for it."""

    service: Service
    clock: FakeClock

    @classmethod
    @contextmanager
    def made(cls, db_url: str, tmp_path: Path) -> Iterator[OneMessage]:
        clock = FakeClock()
        service = Service(settings_for(db_url, tmp_path, run_workers=False), clock=clock)
        try:
            store, catalog = service.store, service.catalog
            store.upsert_profile(Profile("ana", email="ana@example.com"), clock())
            store.accept_events([Event("e1", "payment.failed", "ana", clock(), PAYMENT)], clock())
            Orchestrator(store, lambda: catalog.current, clock, "orchestrator").run_once()
            yield cls(service, clock)
        finally:
            asyncio.run(service.stop())

    def dispatch(self, provider: Recording, owner: str, max_wait: float = 1.0) -> None:
        routes = {Channel(channel): ["p"] for channel in ALL_CHANNELS}
        catalog = self.service.catalog
        dispatcher = Dispatcher(
            self.service.store,
            lambda: catalog.current,
            {"p": provider},
            routes,
            self.clock,
            owner,
            limits=self.limits,
            max_wait=max_wait,
        )
        asyncio.run(dispatcher.run_once())

    #: The rate limits' own clock (monotonic seconds), moved by hand.
    monotonic: list[float] = field(default_factory=lambda: [0.0])
    limits: RateLimits = field(init=False)

    def __post_init__(self) -> None:
        self.limits = RateLimits(clock=lambda: self.monotonic[0])


@pytest.mark.parametrize("idempotent", [False, True], ids=["no-keys", "keys"])
def test_a_crash_in_a_call_shows_as_a_possible_duplicate_only_without_keys(
    db_url: str, tmp_path: Path, idempotent: bool
) -> None:
    with OneMessage.made(db_url, tmp_path) as one:
        dying = Recording("p", idempotent, crash=True)
        with pytest.raises(Crash):
            one.dispatch(dying, "a")
        one.clock.advance(timedelta(minutes=2))  # past the lease: the next claim takes over
        healthy = Recording("p", idempotent)
        one.dispatch(healthy, "b")
        assert dying.calls and set(dying.calls) <= set(healthy.calls)
        timelines = [one.service.store.timeline(guid) for guid in dying.calls]
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


def test_an_unconfirmed_attempt_stays_marked_through_a_rate_limit_deferral(
    db_url: str, tmp_path: Path
) -> None:
    with OneMessage.made(db_url, tmp_path) as one:
        lost = TransientError("timeout", retry_after=0.5, unconfirmed=True)
        provider = Recording("p", idempotent=False, errors=[lost])
        # The answer was lost and the provider asked for 0.5 s; the other message of
        # the batch is deferred (the rate limits' clock stands still here).
        one.dispatch(provider, "a", max_wait=0.0)
        one.clock.advance(timedelta(minutes=1))
        one.dispatch(provider, "b", max_wait=0.0)  # still paused: deferred without a call
        one.monotonic[0] += 0.6
        one.clock.advance(timedelta(minutes=1))
        one.dispatch(provider, "c")
        guid = provider.calls[0]  # the one whose answer was lost
        timeline = one.service.store.timeline(guid)
    assert provider.calls.count(guid) == 2
    assert [e.reason for e in timeline if e.status.value == "scheduled"][1:] == [
        "retrying:timeout",
        "rate_limited",
    ]
    attempts = [e.detail for e in timeline if e.reason == "attempt"]
    assert [(d["attempt"], d.get("possible_duplicate")) for d in attempts] == [(1, None), (2, True)]
