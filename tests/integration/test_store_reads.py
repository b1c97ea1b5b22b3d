"""Reads for the API: one message, a profile's messages page by page, counts."""

from __future__ import annotations

from datetime import timedelta

from clarion.core.model import Channel, Status
from clarion.store import SqlStore
from clarion.store.records import MessageQuery
from tests.integration.store_support import LEASE, T0, decision, event, process


def _seed(store: SqlStore) -> list[str]:
    """Twelve messages of p1 a minute apart (two per event), and one of p2."""
    guids: list[str] = []
    for n in range(6):
        source = event(f"e{n}")
        at = T0 + timedelta(minutes=2 * n)
        push = decision(source, created_at=at, due_at=T0 + timedelta(days=1))
        email = decision(
            source,
            "receipt" if n % 2 else "payment_failed",
            step=1,
            channel=Channel.EMAIL,
            status=Status.SUPPRESSED,
            reason="no_address",
            created_at=at + timedelta(minutes=1),
        )
        process(store, source, push, email, now=at)
        guids += [push.guid, email.guid]
    other = event("x", "p2")
    process(store, other, decision(other))
    return guids


def test_get_message_returns_none_for_unknown_guids(store: SqlStore) -> None:
    assert store.get_message("F" * 40) is None


def test_pages_walk_every_message_newest_first(store: SqlStore) -> None:
    guids = _seed(store)
    seen: list[str] = []
    query = MessageQuery(profile_id="p1", limit=5)
    while page := store.list_messages(query):
        seen += [m.guid for m in page]
        last = page[-1]
        query = MessageQuery(profile_id="p1", limit=5, before=(last.created_at, last.guid))

    assert seen == guids[::-1]


def test_pagination_breaks_ties_on_the_guid(store: SqlStore) -> None:
    source = event("e1")
    same_time = [decision(source, step=i, created_at=T0) for i in range(4)]
    process(store, source, *same_time)
    ordered = sorted((d.guid for d in same_time), reverse=True)

    first = store.list_messages(MessageQuery(profile_id="p1", limit=2))
    rest = store.list_messages(
        MessageQuery(profile_id="p1", limit=5, before=(first[-1].created_at, first[-1].guid))
    )

    assert [m.guid for m in first + rest] == ordered


def test_filters_narrow_the_list(store: SqlStore) -> None:
    guids = _seed(store)

    def listed(**filters: object) -> list[str]:
        query = MessageQuery(profile_id="p1", limit=100, **filters)  # type: ignore[arg-type]
        return [m.guid for m in store.list_messages(query)]

    assert listed(channel=Channel.PUSH) == guids[0::2][::-1]
    assert listed(status=Status.SUPPRESSED) == guids[1::2][::-1]
    assert listed(message="receipt") == [guids[11], guids[7], guids[3]]
    assert listed(since=T0 + timedelta(minutes=4), until=T0 + timedelta(minutes=6)) == [
        guids[5],
        guids[4],
    ]
    assert listed(channel=Channel.SMS) == []
    assert store.list_messages(MessageQuery(profile_id="nobody")) == []


def test_counts_by_status_and_ping(store: SqlStore) -> None:
    store.ping()
    assert store.counts_by_status() == {}
    _seed(store)
    store.claim_due(1, T0, LEASE, "w1")

    assert store.counts_by_status() == {"scheduled": 6, "suppressed": 6, "sending": 1}
