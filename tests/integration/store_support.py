"""Building events, decisions and outcomes for the store tests, and seeding messages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from clarion.core.decision import Cancellation, Decision, Outcome
from clarion.core.ids import message_guid
from clarion.core.model import Channel, Event, Status
from clarion.core.partitions import partition_key, partition_of
from clarion.store import SqlStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def event(
    event_id: str,
    profile_id: str = "p1",
    *,
    kind: str = "payment.failed",
    payload: dict[str, object] | None = None,
    account_id: str | None = None,
) -> Event:
    return Event(
        id=event_id,
        type=kind,
        profile_id=profile_id,
        occurred_at=T0,
        payload=payload or {},
        account_id=account_id,
    )


def decision(
    source: Event,
    message: str = "payment_failed",
    *,
    step: int = 0,
    channel: Channel = Channel.PUSH,
    status: Status = Status.SCHEDULED,
    reason: str | None = None,
    created_at: datetime = T0,
    due_at: datetime | None = T0,
    profile_id: str | None = None,
    expires_at: datetime | None = None,
    dedup_key: str | None = None,
    cancel_on: tuple[str, ...] = (),
    devices: tuple[str, ...] = (),
) -> Decision:
    profile = profile_id or source.profile_id
    return Decision(
        guid=message_guid(source.id, message, step, profile),
        event_id=source.id,
        profile_id=profile,
        message=message,
        message_id=7,
        category="account",
        channel=channel,
        step=step,
        status=status,
        reason=reason,
        created_at=created_at,
        due_at=due_at if status is Status.SCHEDULED else None,
        expires_at=expires_at,
        dedup_key=dedup_key,
        cancel_on=cancel_on,
        devices=devices,
    )


def cancel(target: Decision, by: Event) -> Cancellation:
    return Cancellation(target.guid, target.profile_id, f"cancelled:{by.type}")


def process(
    store: SqlStore,
    source: Event,
    *decisions: Decision,
    cancellations: tuple[Cancellation, ...] = (),
    now: datetime = T0,
) -> int:
    """Take ``source`` through intake and orchestration with the given outcome."""
    store.accept_events([source], now)
    store.hold_partitions("orchestrator", now, LEASE)
    claimed = store.claim_events(1000, now, LEASE, "orchestrator")
    assert source.id in {e.id for e in claimed}
    outcome = Outcome(tuple(decisions), cancellations)
    return store.apply_outcomes([(source, outcome)], "orchestrator", now)


def share_partitions(store: SqlStore, owners: Sequence[str], now: datetime = T0) -> None:
    """Let ``owners`` (the only live workers) settle on their fair shares: the first
    round has each join, the second has the first give back and the others take."""
    for _ in range(2):
        for owner in owners:
            store.hold_partitions(owner, now, LEASE)


def profile_in(wanted: Callable[[int], bool]) -> str:
    """A profile id whose partition satisfies ``wanted``."""
    return next(p for n in range(10_000) if wanted(partition_of(partition_key(p := f"p{n}", None))))
