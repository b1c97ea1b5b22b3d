"""The operations the pipeline needs from a store; one implementation per SQL dialect family."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from clarion.core.backoff import RetryPolicy
from clarion.core.decision import Outcome
from clarion.core.delivery import BadAddress, DeliveryReport
from clarion.core.escalation import LadderMove, OpenRung
from clarion.core.history_needs import HistoryNeeds
from clarion.core.model import DeadPushToken, Device, Event, PastMessage, Profile
from clarion.store.records import (
    Accepted,
    Attempt,
    Breakdown,
    Claimed,
    DeliveryCount,
    DeliveryQuery,
    EventFailure,
    EventRecord,
    Grouped,
    Holding,
    LadderRung,
    LifecycleEntry,
    MessageQuery,
    MessageRecord,
    ReportApplied,
    ReportFilter,
    Transition,
)


class ReportCounts(Protocol):
    """What incrementality reports read (``clarion.experiments.report``)."""

    def profile_counts(self, flt: ReportFilter, by: Breakdown) -> Grouped:
        """Per profile: decisions and conversions, by message, ``by`` group and arm."""

    def planned_holdouts(self, flt: ReportFilter) -> dict[str, dict[float | None, int]]:
        """Per message: profiles decided under each held-out share (``None``: unrecorded)."""


class Store(ReportCounts, Protocol):
    """Durable state of Clarion. Every method is one transaction; all are thread-safe."""

    # Profiles and devices
    def upsert_profile(self, profile: Profile, now: datetime) -> None:
        """Create or replace a profile (its devices are kept)."""

    def get_profile(self, profile_id: str) -> Profile | None:
        """A profile with its devices, or None."""

    def upsert_device(self, profile_id: str, device: Device, now: datetime) -> bool:
        """Create or replace a device; False when the profile does not exist."""

    def remove_push_token(self, dead: DeadPushToken, now: datetime) -> bool:
        """Clear a device's push token that a push service reported dead, only if the
        device still holds that token; note it in the message's lifecycle log.
        True when the token was cleared."""

    def get_profiles(self, profile_ids: Iterable[str]) -> dict[str, Profile]:
        """The profiles (with devices) that exist among ``profile_ids``."""

    def profiles_of_accounts(self, account_ids: Iterable[str]) -> dict[str, Profile]:
        """Every profile (with devices) of the given accounts, by profile id."""

    # Intake
    def accept_events(self, events: Sequence[Event], now: datetime) -> list[Accepted]:
        """Durably record events, in order; a known id is a no-op answered as before."""

    def claim_events(self, limit: int, now: datetime, lease: timedelta, owner: str) -> list[Event]:
        """Claim unprocessed events (or ones whose lease expired, or that another
        worker had claimed) of the partitions ``owner`` holds, oldest first."""

    # Partitions
    def hold_partitions(
        self, owner: str, now: datetime, lease: timedelta, gone: Collection[str] = ()
    ) -> Holding:
        """Renew ``owner``'s partition leases and move towards its fair share of the
        partitions among the live workers: give back the surplus, take free or
        expired ones up to it, or ones of the workers ``gone`` (known dead)."""

    def release_partitions(self, owner: str) -> None:
        """Give back every partition of ``owner`` at once (a clean stop)."""

    # Orchestration
    def history(
        self, profile_ids: Iterable[str], since: datetime, needs: HistoryNeeds | None = None
    ) -> dict[str, list[PastMessage]]:
        """Messages of each profile created since ``since``, plus all still pending;
        with ``needs``, only those its decisions read."""

    def apply_outcomes(
        self, outcomes: Sequence[tuple[Event, Outcome]], owner: str, now: datetime
    ) -> int:
        """Store decisions (a known guid is skipped), apply cancellations, append
        lifecycle entries, and mark the events processed; events whose lease
        ``owner`` lost, or whose partition it no longer owns, are skipped.
        Returns the number of new messages."""

    def fail_event(
        self,
        event_id: str,
        owner: str,
        error: str,
        now: datetime,
        policy: RetryPolicy,
        unit: float,
    ) -> EventFailure | None:
        """Record that processing an event ``owner`` holds raised ``error``: count the
        attempt, then leave it to be claimed again after ``policy``'s delay (``unit``
        is its random number), or dead-letter it after its last attempt. None when
        ``owner`` no longer holds the event."""

    def event_record(self, event_id: str) -> EventRecord | None:
        """An accepted event, its state, failed attempts and last error; None if unknown."""

    # Dispatch
    def claim_due(self, limit: int, now: datetime, lease: timedelta, owner: str) -> list[Claimed]:
        """Claim scheduled messages that are due, and sending ones whose lease expired."""

    def apply_transitions(self, transitions: Sequence[Transition], now: datetime) -> int:
        """Apply dispatch verdicts held under a live lease; returns how many applied."""

    # Provider reports
    def apply_delivery_report(self, report: DeliveryReport, now: datetime) -> ReportApplied | None:
        """Apply a provider's delivery report to the message with its reference (only
        forward: sent to delivered or failed), logging it and recording any bad
        address; None when no message has that reference yet: the report is then held
        and applied when the reference is stored (by ``apply_transitions``)."""

    def record_bad_address(self, profile_id: str, address: BadAddress, now: datetime) -> None:
        """Record what an address of the profile cannot receive (its kind's channels stop
        using it while it is the profile's, or until its ``lasts`` runs out)."""

    # Escalation ladders
    def open_rungs(self, now: datetime, limit: int, owner: str) -> list[OpenRung]:
        """Ladder rungs that must move now: settled (delivered, failed, stopped) ones,
        and ones not confirmed by their ``confirm_by``; only those in partitions
        ``owner`` holds."""

    def apply_ladder_moves(
        self, moves: Sequence[LadderMove], now: datetime, owner: str
    ) -> list[str]:
        """Close each move's rung if still open and in a partition ``owner`` still
        owns, create the next rungs (a known guid is skipped) and append lifecycle
        entries; returns the guids of the rungs moved."""

    def ladder(self, guid: str) -> list[LadderRung]:
        """The rungs of the escalation ladder message ``guid`` is on (empty if none)."""

    # In-app upkeep
    def inapp_upkeep_due(self, now: datetime) -> bool:
        """Whether a suppression has ended or a feedback receipt expired (a read)."""

    def end_suppressions(self, now: datetime, limit: int) -> int:
        """End at most ``limit`` suppressions whose time has passed: an ``unsuppressed``
        lifecycle entry, dated at the end, for each live in-app message they hid;
        returns how many ended."""

    def purge_feedback_receipts(self, now: datetime, limit: int) -> int:
        """Forget at most ``limit`` receipts of expired feedback objects; returns how many."""

    # Insights
    def delivery_counts(self, query: DeliveryQuery) -> list[DeliveryCount]:
        """Messages counted per time bucket and group, grouped by the database."""

    def record_attempts(self, attempts: Sequence[Attempt], now: datetime) -> set[str]:
        """Append an ``attempt`` lifecycle entry for each message its lease owner
        still holds, in one transaction; the guids recorded (the others must not
        be sent: their lease is gone)."""

    # Reads
    def get_message(self, guid: str) -> MessageRecord | None: ...

    def timeline(self, guid: str) -> list[LifecycleEntry]: ...

    def list_messages(self, query: MessageQuery) -> list[MessageRecord]: ...

    def get_event(self, event_id: str) -> tuple[EventRecord, list[MessageRecord]] | None:
        """An event with its state and the messages it caused, or None."""

    def profile_known(self, profile_id: str) -> bool:
        """Whether the profile exists or has any message."""

    def counts_by_status(self) -> Mapping[str, int]:
        """Message counts by status, for metrics and readiness."""

    def ping(self) -> None:
        """Raise if the database cannot be reached."""

    def close(self) -> None: ...
