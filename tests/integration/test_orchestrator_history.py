"""The history the orchestrator loads for a batch is what ``decide()`` will read, not a
profile's whole week (issue 11, item 7): a profile that piles up thousands of
transactional messages (``payment_failed``: four a failed payment, no dedup, its
alert live a week) cost every later batch all of them, and the server's memory
grew with that profile's pile. Run on SQLite and PostgreSQL.

What must keep working with the smaller read: the goal event resolves every live
alert, dedup still finds the earlier message, and a message under caps still
counts the transactional ones."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from clarion.catalog import load_catalog
from clarion.core.history_needs import HistoryNeeds
from clarion.core.model import Channel, Device, Event, PastMessage, Profile, Status
from clarion.runtime.orchestrator import Orchestrator
from clarion.store import SqlStore, migrate
from clarion.store.records import MessageQuery
from tests.integration.pipeline_support import EXAMPLE_CATALOG, FakeClock

FLOOD = 12  # payment.failed events before the one under test


class CountingStore(SqlStore):
    """A store that remembers how many past messages each history read returned."""

    loaded: list[int]

    def history(
        self, profile_ids: Iterable[str], since: datetime, needs: HistoryNeeds | None = None
    ) -> dict[str, list[PastMessage]]:
        found = super().history(profile_ids, since, needs)
        self.loaded.append(sum(len(v) for v in found.values()))
        return found


def _setup(
    db_url: str, phone: str | None = "+15550100"
) -> tuple[CountingStore, Orchestrator, FakeClock]:
    clock = FakeClock()
    migrate(db_url)
    store = CountingStore(db_url)
    store.loaded = []
    device = Device("phone", "ios", "17.0", None, "tok")
    profile = Profile(
        id="ana", email="ana@example.com", phone=phone, timezone="UTC", devices=(device,)
    )
    store.upsert_profile(profile, clock())
    catalog = load_catalog(EXAMPLE_CATALOG)
    return store, Orchestrator(store, lambda: catalog, clock, "w1"), clock


def _send(store: SqlStore, orch: Orchestrator, clock: FakeClock, *events: Event) -> None:
    store.accept_events(list(events), clock())
    while orch.run_once():
        pass
    clock.advance(timedelta(minutes=1))


def _failed(i: int, clock: FakeClock) -> Event:
    payload = {"amount": 15.49, "currency": "USD", "show_title": "Dark"}
    return Event(f"pf{i}", "payment.failed", "ana", clock(), payload)


def _flood(store: SqlStore, orch: Orchestrator, clock: FakeClock) -> None:
    for i in range(FLOOD):
        _send(store, orch, clock, _failed(i, clock))


def _of(store: SqlStore, message: str, channel: Channel) -> list[tuple[str, Status]]:
    found = store.list_messages(MessageQuery("ana", limit=500))
    return sorted(
        (m.event_id, m.status) for m in found if (m.message, m.channel) == (message, channel)
    )


def test_a_transactional_event_loads_none_of_the_pile(db_url: str) -> None:
    store, orch, clock = _setup(db_url)
    try:
        _flood(store, orch, clock)
        alerts = _of(store, "payment_failed", Channel.INAPP)
        assert len(alerts) == FLOOD  # a week-long pile: live alerts, sent push/email/sms
        store.loaded.clear()
        _send(store, orch, clock, _failed(FLOOD, clock))
        # payment_failed bypasses caps, has no dedup, and payment.failed cancels nothing.
        assert store.loaded == [0]
        assert len(_of(store, "payment_failed", Channel.INAPP)) == FLOOD + 1
    finally:
        store.close()


def test_the_goal_event_still_resolves_every_live_alert(db_url: str) -> None:
    store, orch, clock = _setup(db_url)
    try:
        _flood(store, orch, clock)
        store.loaded.clear()
        _send(store, orch, clock, Event("upd", "payment.updated", "ana", clock(), {}))
        # No dispatcher runs here: the pile is still pending, and the goal cancels it all.
        pile = [_of(store, "payment_failed", c) for c in (Channel.INAPP, Channel.PUSH)]
        assert [len(p) for p in pile] == [FLOOD, FLOOD]
        assert {status for p in pile for _, status in p} == {Status.CANCELLED}
        assert store.loaded == [4 * FLOOD]  # what it cancels, nothing else
    finally:
        store.close()


def test_dedup_still_sees_the_earlier_message(db_url: str) -> None:
    store, orch, clock = _setup(db_url, phone=None)  # add_phone asks only without one
    try:
        _flood(store, orch, clock)
        missing = {"reason": "no_phone"}
        _send(store, orch, clock, Event("ph1", "account.phone_missing", "ana", clock(), missing))
        store.loaded.clear()
        _send(store, orch, clock, Event("ph2", "account.phone_missing", "ana", clock(), missing))
        [first, second] = _of(store, "add_phone", Channel.INAPP)
        assert (first[1], second[1]) == (Status.SCHEDULED, Status.SUPPRESSED)
        # The earlier add_phone messages (dedup keys), not the payment pile.
        assert store.loaded == [1]
    finally:
        store.close()


def test_a_capped_message_still_counts_the_transactional_ones(db_url: str) -> None:
    store, orch, clock = _setup(db_url)
    try:
        _flood(store, orch, clock)
        season = {"show_id": "dark", "show_title": "Dark", "season": 2}
        store.loaded.clear()
        _send(store, orch, clock, Event("s1", "season.released", "ana", clock(), season))
        # The pile of push messages today fills the push cap (3 a day) and the global one.
        [(_, status)] = _of(store, "new_season", Channel.PUSH)
        assert status is Status.SUPPRESSED
        assert store.loaded[0] >= 3 * FLOOD  # caps count everything recent
    finally:
        store.close()
