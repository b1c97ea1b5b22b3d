"""The attempt log in the store: attempts recorded only under a live lease, an
unconfirmed attempt found at the next claim, and a deferral giving its attempt back."""

from __future__ import annotations

from datetime import timedelta

from clarion.core.model import Status
from clarion.store import SqlStore
from clarion.store.records import Attempt, Transition
from tests.integration.store_support import LEASE, T0, decision, event, process

EXPIRED = T0 + LEASE + timedelta(seconds=1)


def test_attempts_are_recorded_only_while_the_lease_is_held(store: SqlStore) -> None:
    source = event("e1")
    made = decision(source)
    process(store, source, made)
    [claimed] = store.claim_due(10, T0, LEASE, "w1")

    assert store.record_attempts([Attempt(made.guid, "someone-else", "sms", 1)], T0) == set()
    assert store.record_attempts([Attempt(made.guid, "w1", "sms", 1)], T0) == {made.guid}

    last = store.timeline(made.guid)[-1]
    assert (last.status, last.reason, last.detail) == (
        Status.SENDING,
        "attempt",
        {"provider": "sms", "attempt": 1},
    )
    assert claimed.unconfirmed is None


def test_a_claim_after_a_crash_in_a_recorded_call_knows_it(store: SqlStore) -> None:
    source = event("e1")
    crashed, quiet = decision(source), decision(source, step=1)
    process(store, source, crashed, quiet)
    store.claim_due(10, T0, LEASE, "w1")
    store.record_attempts([Attempt(crashed.guid, "w1", "sms", 1)], T0)  # quiet: no call yet

    again = {c.message.guid: c for c in store.claim_due(10, EXPIRED, LEASE, "w2")}

    assert again[crashed.guid].unconfirmed == {"provider": "sms", "cause": "lease_expired"}
    assert again[quiet.guid].unconfirmed is None


def test_a_claim_after_two_crashes_in_a_row_still_knows_the_first_attempt(
    store: SqlStore,
) -> None:
    # Attempt recorded, crash; claimed again, crash before the attempt is
    # recorded; claimed a third time: the call of the first claim may have gone
    # out, so this send may deliver twice (issue 11, item 9).
    source = event("e1")
    made = decision(source)
    process(store, source, made)
    store.claim_due(10, T0, LEASE, "w1")
    store.record_attempts([Attempt(made.guid, "w1", "sms", 1)], T0)
    [second] = store.claim_due(10, EXPIRED, LEASE, "w2")
    assert second.unconfirmed == {"provider": "sms", "cause": "lease_expired"}

    [third] = store.claim_due(10, EXPIRED + LEASE + timedelta(seconds=1), LEASE, "w3")

    assert third.message.attempts == 3
    assert third.unconfirmed == {"provider": "sms", "cause": "lease_expired"}


def test_crashes_before_any_attempt_leave_a_claim_confirmed(store: SqlStore) -> None:
    source = event("e1")
    made = decision(source)
    process(store, source, made)
    store.claim_due(10, T0, LEASE, "w1")  # crash before the attempt is recorded
    store.claim_due(10, EXPIRED, LEASE, "w2")  # and again

    [third] = store.claim_due(10, EXPIRED + LEASE + timedelta(seconds=1), LEASE, "w3")

    assert third.message.attempts == 3
    assert third.unconfirmed is None


def test_a_retry_after_an_unconfirmed_error_knows_it_and_a_deferral_keeps_it(
    store: SqlStore,
) -> None:
    source = event("e1")
    made = decision(source)
    process(store, source, made)
    store.claim_due(10, T0, LEASE, "w1")
    lost = Transition(
        made.guid,
        "w1",
        Status.SCHEDULED,
        "retrying:timeout",
        T0,
        "sms",
        None,
        {"unconfirmed": "sms"},
    )
    store.apply_transitions([lost], T0)
    [retry] = store.claim_due(10, T0, LEASE, "w2")
    assert retry.unconfirmed == {"provider": "sms", "cause": "retrying:timeout"}
    assert retry.message.attempts == 2

    # Rescheduled for a rate-limit slot without a call: the attempt is given back.
    deferral = Transition(
        made.guid,
        "w2",
        Status.SCHEDULED,
        "rate_limited",
        T0,
        "sms",
        None,
        {"unconfirmed": "sms"},
        attempts=1,
    )
    store.apply_transitions([deferral], T0)
    [later] = store.claim_due(10, T0, LEASE, "w3")
    assert later.message.attempts == 2
    assert later.unconfirmed == {"provider": "sms", "cause": "rate_limited"}


def test_a_crash_before_the_attempt_after_an_unconfirmed_error_keeps_it(store: SqlStore) -> None:
    source = event("e1")
    made = decision(source)
    process(store, source, made)
    store.claim_due(10, T0, LEASE, "w1")
    lost = Transition(
        made.guid,
        "w1",
        Status.SCHEDULED,
        "retrying:timeout",
        T0,
        "sms",
        None,
        {"unconfirmed": "sms"},
    )
    store.apply_transitions([lost], T0)
    store.claim_due(10, T0, LEASE, "w2")  # crash before the attempt is recorded

    [again] = store.claim_due(10, EXPIRED, LEASE, "w3")

    assert again.unconfirmed == {"provider": "sms", "cause": "retrying:timeout"}
