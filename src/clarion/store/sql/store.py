"""``SqlStore``: the ``Store`` protocol over SQLAlchemy Core, one transaction per call."""

from __future__ import annotations

import itertools
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core.backoff import RetryPolicy
from clarion.core.decision import Outcome
from clarion.core.delivery import BadAddress, DeliveryReport
from clarion.core.escalation import LadderMove, OpenRung
from clarion.core.history_needs import HistoryNeeds
from clarion.core.model import DeadPushToken, Device, Event, PastMessage, Profile
from clarion.store.base import Store
from clarion.store.records import (
    Accepted,
    Attempt,
    Breakdown,
    Claimed,
    DeliveryCount,
    DeliveryQuery,
    EventFailure,
    EventRecord,
    FeedbackReceipt,
    Grouped,
    Holding,
    InAppView,
    LadderRung,
    LifecycleEntry,
    MessageQuery,
    MessageRecord,
    ReportApplied,
    ReportFilter,
    Suppression,
    Transition,
)
from clarion.store.sql import (
    attempts as attempt_log,
)
from clarion.store.sql import (
    dispatch,
    engagement,
    escalation,
    event_failures,
    inapp,
    inapp_writes,
    insights,
    intake,
    orchestration,
    partitions,
    profiles,
    reads,
    receipts,
    reports,
)
from clarion.store.sql.convert import ts
from clarion.store.sql.dialects import SqlDialect, dialect_for
from clarion.store.sql.engine import DEFAULT_TIMEOUTS, Timeouts, normalize_url, reader
from clarion.store.sql.writer import WriterLock


class SqlStore:
    """Clarion's durable state in SQLite (embedded) or PostgreSQL (distributed).

    One instance is shared by the API and worker threads: each call checks a
    connection out of the pool and runs one transaction. The schema must exist
    already (``clarion.store.migrate``).
    """

    def __init__(
        self, url: str, *, sqlite_synchronous: str = "NORMAL", timeouts: Timeouts = DEFAULT_TIMEOUTS
    ) -> None:
        parsed = normalize_url(url)
        self._dialect: SqlDialect = dialect_for(parsed)
        self.engine = self._dialect.create_engine(parsed, sqlite_synchronous, timeouts)
        self._reader = reader(self.engine)
        self._writer = self._dialect.writer_lock(self.engine, timeouts.sqlite_busy)
        self._reads: inapp.Reads = (self._dialect, self.engine.dialect)
        # Orders events received at the same instant (one batch, or a test clock):
        # increasing within a process, and across restarts while the clock moves on.
        # next() on itertools.count is atomic, so threads may share it.
        self._event_seq = itertools.count(time.time_ns() // 1000)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, started when it is this one's turn (see ``writer``)."""
        with self._writer, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _driver(self) -> Iterator[Any]:
        """A pooled connection's driver connection, for the prebuilt one-statement
        reads of ``store.sql.inapp`` (see ``_driver_rows`` there). The driver's own
        errors come out as SQLAlchemy's, as from every other call (a lost connection
        is an ``OperationalError``, which the API answers with 503)."""
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            raw = self.engine.raw_connection()
        except dbapi_error as exc:
            raise _wrapped(exc, dbapi_error) from exc
        try:
            yield raw.driver_connection
        except dbapi_error as exc:
            raw.invalidate(exc)  # the pool must not hand it out again
            raise _wrapped(exc, dbapi_error) from exc
        finally:
            raw.close()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._dialect.name

    @property
    def prefers_inline_reads(self) -> bool:
        """Whether callers on an event loop should make the in-app reads
        (``inapp_view``, ``get_message``) inline rather than in a thread."""
        return self._dialect.prefers_inline_reads

    # Profiles and devices
    def upsert_profile(self, profile: Profile, now: datetime) -> None:
        with self._write() as conn:
            profiles.upsert_profile(conn, profile, now)

    def get_profile(self, profile_id: str) -> Profile | None:
        return self.get_profiles((profile_id,)).get(profile_id)

    def upsert_device(self, profile_id: str, device: Device, now: datetime) -> bool:
        with self._write() as conn:
            if not profiles.profile_exists(conn, profile_id):
                return False
            profiles.upsert_devices(conn, profile_id, (device,), ts(now))
            return True

    def remove_push_token(self, dead: DeadPushToken, now: datetime) -> bool:
        with self._write() as conn:
            return profiles.remove_push_token(conn, dead, ts(now))

    def get_profiles(self, profile_ids: Iterable[str]) -> dict[str, Profile]:
        with self._reader.connect() as conn:
            return profiles.profiles_by_id(conn, profile_ids)

    def profiles_of_accounts(self, account_ids: Iterable[str]) -> dict[str, Profile]:
        with self._reader.connect() as conn:
            return profiles.profiles_by_account(conn, account_ids)

    # Intake
    def accept_events(self, events: Sequence[Event], now: datetime) -> list[Accepted]:
        if not events:
            return []
        # Read before the write lock: which partition a profile's events go to only
        # changes when its account does (see ``docs/scaling.md``).
        with self._reader.connect() as conn:
            accounts = intake.accounts_of(conn, events)
        with self._write() as conn:
            return intake.accept_events(conn, events, now, self._event_seq, accounts)

    def claim_events(self, limit: int, now: datetime, lease: timedelta, owner: str) -> list[Event]:
        with self._write() as conn:
            return intake.claim_events(conn, limit, now, lease, owner)

    # Partitions
    def hold_partitions(
        self, owner: str, now: datetime, lease: timedelta, gone: Collection[str] = ()
    ) -> Holding:
        with self._write() as conn:
            return partitions.hold(conn, owner, ts(now), lease.total_seconds(), gone)

    def release_partitions(self, owner: str) -> None:
        with self._write() as conn:
            partitions.release(conn, owner)

    # Orchestration
    def history(
        self, profile_ids: Iterable[str], since: datetime, needs: HistoryNeeds | None = None
    ) -> dict[str, list[PastMessage]]:
        with self._reader.connect() as conn:
            return orchestration.history(conn, profile_ids, since, needs)

    def apply_outcomes(
        self, outcomes: Sequence[tuple[Event, Outcome]], owner: str, now: datetime
    ) -> int:
        if not outcomes:
            return 0
        prepared = orchestration.prepare_outcomes(outcomes, now)
        with self._write() as conn:
            return orchestration.apply_outcomes(conn, prepared, owner, now)

    def fail_event(
        self,
        event_id: str,
        owner: str,
        error: str,
        now: datetime,
        policy: RetryPolicy,
        unit: float,
    ) -> EventFailure | None:
        with self._write() as conn:
            return event_failures.record_failure(conn, event_id, owner, error, now, policy, unit)

    def event_record(self, event_id: str) -> EventRecord | None:
        with self._reader.connect() as conn:
            return reads.event_record(conn, event_id)

    # Dispatch
    def claim_due(self, limit: int, now: datetime, lease: timedelta, owner: str) -> list[Claimed]:
        with self._write() as conn:
            rows = dispatch.claim_due(conn, limit, now, lease, owner)
        if not rows:
            return []
        # Outside the write transaction: reading events and profiles needs no lock.
        with self._reader.connect() as conn:
            return dispatch.with_context(conn, rows, owner)

    def apply_transitions(self, transitions: Sequence[Transition], now: datetime) -> int:
        if not transitions:
            return 0
        prepared = dispatch.prepare_transitions(transitions, now)
        with self._write() as conn:
            return dispatch.apply_transitions(conn, prepared)

    def record_attempts(self, attempts: Sequence[Attempt], now: datetime) -> set[str]:
        if not attempts:
            return set()
        entries = attempt_log.attempt_entries(attempts, now)
        with self._write() as conn:
            return attempt_log.record_attempts(conn, attempts, entries)

    # Escalation ladders
    def open_rungs(self, now: datetime, limit: int, owner: str) -> list[OpenRung]:
        with self._reader.connect() as conn:
            return escalation.open_rungs(conn, now, limit, owner)

    def apply_ladder_moves(
        self, moves: Sequence[LadderMove], now: datetime, owner: str
    ) -> list[str]:
        if not moves:
            return []
        with self._write() as conn:
            return escalation.apply_moves(conn, moves, now, owner)

    def ladder(self, guid: str) -> list[LadderRung]:
        with self._reader.connect() as conn:
            return escalation.ladder_of(conn, guid)

    # Insights
    def delivery_counts(self, query: DeliveryQuery) -> list[DeliveryCount]:
        with self._reader.connect() as conn:
            return insights.delivery_counts(conn, query)

    # Reads
    def get_message(self, guid: str) -> MessageRecord | None:
        with self._driver() as driver:
            return inapp.message_by_guid(self._reads, driver, guid)

    def timeline(self, guid: str) -> list[LifecycleEntry]:
        with self._reader.connect() as conn:
            return reads.timeline(conn, guid)

    def list_messages(self, query: MessageQuery) -> list[MessageRecord]:
        with self._reader.connect() as conn:
            return reads.list_messages(conn, query)

    def get_event(self, event_id: str) -> tuple[EventRecord, list[MessageRecord]] | None:
        with self._reader.connect() as conn:
            record = reads.event_record(conn, event_id)
            if record is None:
                return None
            return record, reads.messages_of_event(conn, record)

    def profile_known(self, profile_id: str) -> bool:
        with self._reader.connect() as conn:
            return reads.profile_known(conn, profile_id)

    def counts_by_status(self) -> Mapping[str, int]:
        with self._reader.connect() as conn:
            return reads.counts_by_status(conn)

    # In-app
    def inapp_view(self, profile_id: str, now: datetime, limit: int) -> InAppView:
        with self._driver() as driver:
            return inapp.inapp_view(self._reads, driver, profile_id, ts(now), limit)

    def record_impression(
        self,
        message: MessageRecord,
        now: datetime,
        detail: dict[str, object],
        receipt: FeedbackReceipt | None = None,
    ) -> bool:
        with self._write() as conn:
            return inapp_writes.record_impression(conn, message, ts(now), detail, receipt)

    def record_action(
        self,
        message: MessageRecord,
        action: str,
        now: datetime,
        detail: dict[str, object],
        receipt: FeedbackReceipt | None = None,
        suppression: Suppression | None = None,
    ) -> list[str] | None:
        with self._write() as conn:
            return inapp_writes.record_action(
                conn, message, action, ts(now), detail, receipt, suppression
            )

    def record_fallback(
        self,
        message: MessageRecord,
        action: str,
        fallback: str,
        now: datetime,
        detail: dict[str, object],
    ) -> None:
        with self._write() as conn:
            inapp_writes.record_fallback(conn, message, action, fallback, ts(now), detail)

    def take_feedback_receipt(self, guid: str, receipt: FeedbackReceipt, now: datetime) -> bool:
        with self._write() as conn:
            return inapp_writes.take_receipt(conn, guid, receipt, ts(now))

    def inapp_upkeep_due(self, now: datetime) -> bool:
        with self._reader.connect() as conn:
            return inapp_writes.upkeep_due(conn, ts(now))

    def end_suppressions(self, now: datetime, limit: int) -> int:
        with self._write() as conn:
            return inapp_writes.end_suppressions(conn, ts(now), limit)

    def purge_feedback_receipts(self, now: datetime, limit: int) -> int:
        with self._write() as conn:
            return inapp_writes.purge_feedback_receipts(conn, ts(now), limit)

    def mark_inapp(self, profile_id: str, guid: str, column: str, now: datetime) -> bool:
        with self._write() as conn:
            return inapp_writes.mark(conn, profile_id, guid, column, ts(now))

    def mark_inapp_many(
        self, profile_id: str, guids: Sequence[str], column: str, now: datetime
    ) -> list[str]:
        with self._write() as conn:
            return inapp_writes.mark_many(conn, profile_id, guids, column, ts(now))

    def unmark_inapp(self, profile_id: str, guid: str, column: str) -> bool:
        with self._write() as conn:
            return inapp_writes.unmark(conn, profile_id, guid, column)

    # Provider reports
    def apply_delivery_report(self, report: DeliveryReport, now: datetime) -> ReportApplied | None:
        with self._write() as conn:
            return receipts.apply_delivery_report(conn, report, ts(now))

    def record_bad_address(self, profile_id: str, address: BadAddress, now: datetime) -> None:
        with self._write() as conn:
            receipts.record_bad_addresses(conn, [(profile_id, address)], ts(now))

    # Email tracking
    def record_engagement(
        self, guid: str, reason: str, now: datetime, detail: dict[str, object]
    ) -> bool:
        """Append an open or click to a message's timeline; False for an unknown guid."""
        with self._write() as conn:
            return engagement.record_engagement(conn, guid, reason, ts(now), detail)

    # Measurement
    def profile_counts(self, flt: ReportFilter, by: Breakdown) -> Grouped:
        """Per profile: decisions and conversions, by message, group and arm."""
        with self._reader.connect() as conn:
            return reports.profile_counts(conn, flt, by)

    def planned_holdouts(self, flt: ReportFilter) -> dict[str, dict[float | None, int]]:
        """Per message: profiles decided under each held-out share."""
        with self._reader.connect() as conn:
            return reports.planned_holdouts(conn, flt)

    def ping(self) -> None:
        with self._reader.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
        if isinstance(self._writer, WriterLock):
            self._writer.close()


def _wrapped(exc: Exception, dbapi_error: type[Exception]) -> sa.exc.StatementError:
    return sa.exc.DBAPIError.instance(None, None, exc, dbapi_error, hide_parameters=True)


def open_store(url: str, *, sqlite_synchronous: str = "NORMAL") -> SqlStore:
    """A store for ``url``, checked by one round trip; it does not migrate."""
    store = SqlStore(url, sqlite_synchronous=sqlite_synchronous)
    try:
        store.ping()
    except BaseException:
        store.close()
        raise
    return store


if TYPE_CHECKING:

    def _implements_store(store: SqlStore) -> Store:
        return store  # mypy checks SqlStore against the Store protocol here
