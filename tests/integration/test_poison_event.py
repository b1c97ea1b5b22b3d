"""One bad event must never hurt another (issue 11, item 1).

An event whose processing raises is set aside: the rest of its batch is decided
and stored, the bad one is retried on its own with backoff, then dead-lettered
with its error (state ``dead``, ``attempts``, ``last_error``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from clarion.catalog import load_catalog
from clarion.core.backoff import RetryPolicy
from clarion.core.decision import Outcome
from clarion.core.model import Event, Profile
from clarion.observability import REGISTRY
from clarion.runtime.orchestrator import Orchestrator
from clarion.store import SqlStore, migrate
from clarion.store.records import MessageQuery
from tests.integration.pipeline_support import (
    EXAMPLE_CATALOG,
    FakeClock,
    running,
    settings_for,
    when_idle,
)

CATALOG = load_catalog(EXAMPLE_CATALOG)
#: Deciding ``signup.started`` adds its 24 h delay to ``occurred_at``: past year 9999.
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)
POLICY = RetryPolicy(base=1.0, cap=10.0, max_attempts=3, jitter=0.0)


class FailingApply(SqlStore):
    """A store whose ``apply_outcomes`` fails every transaction holding a chosen event,
    as a row the database refuses would, or fails while ``down`` as an outage does."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.refuse: Callable[[Event], bool] = lambda _: False
        self.down = False

    def apply_outcomes(
        self, outcomes: Sequence[tuple[Event, Outcome]], owner: str, now: datetime
    ) -> int:
        if self.down:
            raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))
        if any(self.refuse(event) for event, _ in outcomes):
            raise ValueError("the database refused a row")
        return super().apply_outcomes(outcomes, owner, now)


def _dead_count() -> float:
    return REGISTRY.get_sample_value("clarion_events_dead_lettered_total") or 0.0


def _open(db_url: str, clock: FakeClock) -> FailingApply:
    migrate(db_url)
    store = FailingApply(db_url)
    for name in ("ana", "bo", "cy"):
        store.upsert_profile(Profile(id=name, email=f"{name}@example.com"), clock())
    return store


def _signup(event_id: str, profile_id: str, occurred_at: datetime) -> Event:
    return Event(event_id, "signup.started", profile_id, occurred_at, {"plan": "standard"})


def _settle(orchestrator: Orchestrator, clock: FakeClock, rounds: int) -> None:
    """Run the orchestrator, moving the clock past each retry's backoff."""
    for _ in range(rounds):
        orchestrator.run_once()
        clock.advance(timedelta(seconds=POLICY.cap + 1))


def test_a_poison_event_is_dead_lettered_while_its_batch_proceeds(db_url: str) -> None:
    clock = FakeClock()
    store = _open(db_url, clock)
    try:
        orchestrator = Orchestrator(store, lambda: CATALOG, clock, "w1", retry=POLICY)
        good = [_signup("g1", "ana", clock()), _signup("g2", "bo", clock())]
        poison = _signup("poison", "cy", FAR_FUTURE)
        store.accept_events([good[0], poison, good[1]], clock())
        dead_before = _dead_count()

        assert orchestrator.run_once() == 3
        # The good ones are decided at once; the poison one waits for its retry.
        for event in good:
            assert store.list_messages(MessageQuery(event.profile_id)), event.id
            assert store.event_record(event.id).state == "done"  # type: ignore[union-attr]
        waiting = store.event_record("poison")
        assert waiting is not None and waiting.state == "processing" and waiting.attempts == 1
        assert waiting.last_error is not None and "OverflowError" in waiting.last_error
        # Not claimed again before its backoff has passed.
        assert orchestrator.run_once() == 0

        with capture_logs() as logs:
            _settle(orchestrator, clock, POLICY.max_attempts + 2)
        dead = store.event_record("poison")
        assert dead is not None and dead.state == "dead"
        assert dead.attempts == POLICY.max_attempts
        assert dead.last_error is not None and dead.last_error.startswith("OverflowError")
        assert store.list_messages(MessageQuery("cy")) == []
        assert _dead_count() == dead_before + 1
        [logged] = [e for e in logs if e["event"] == "event_dead_lettered"]
        assert logged["event_id"] == "poison" and logged["error"] == "OverflowError"
        assert logged["attempts"] == POLICY.max_attempts
        assert "standard" not in repr(logs)  # the payload's value is never logged
        # Dead events are never claimed again.
        clock.advance(timedelta(days=1))
        assert orchestrator.run_once() == 0
    finally:
        store.close()


def test_an_event_whose_outcome_cannot_be_stored_does_not_hold_back_the_others(
    db_url: str,
) -> None:
    clock = FakeClock()
    store = _open(db_url, clock)
    try:
        store.refuse = lambda event: event.id == "bad"
        orchestrator = Orchestrator(store, lambda: CATALOG, clock, "w1", retry=POLICY)
        events = [_signup("g1", "ana", clock()), _signup("bad", "bo", clock())]
        events.append(_signup("g2", "cy", clock()))
        store.accept_events(events, clock())

        orchestrator.run_once()
        assert store.event_record("g1").state == "done"  # type: ignore[union-attr]
        assert store.event_record("g2").state == "done"  # type: ignore[union-attr]
        assert store.list_messages(MessageQuery("cy"))
        _settle(orchestrator, clock, POLICY.max_attempts + 1)
        bad = store.event_record("bad")
        assert bad is not None and bad.state == "dead" and bad.attempts == POLICY.max_attempts
        assert bad.last_error == "ValueError: the database refused a row"
        assert store.list_messages(MessageQuery("bo")) == []
        # The cause fixed, the README's statement sends dead events round again.
        store.refuse = lambda _: False
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE events SET state = 'pending', attempts = 0 WHERE state = 'dead'"
            )
        assert orchestrator.run_once() == 1
        assert store.event_record("bad").state == "done"  # type: ignore[union-attr]
        assert store.list_messages(MessageQuery("bo"))
    finally:
        store.close()


def test_an_event_that_recovers_on_a_retry_is_processed(db_url: str) -> None:
    clock = FakeClock()
    store = _open(db_url, clock)
    try:
        failures = iter([True])  # the first transaction with it fails, later ones work
        store.refuse = lambda event: event.id == "flaky" and next(failures, False)
        orchestrator = Orchestrator(store, lambda: CATALOG, clock, "w1", retry=POLICY)
        store.accept_events([_signup("flaky", "ana", clock())], clock())
        orchestrator.run_once()
        assert store.event_record("flaky").attempts == 1  # type: ignore[union-attr]
        _settle(orchestrator, clock, 2)
        done = store.event_record("flaky")
        assert done is not None and done.state == "done" and done.attempts == 1
        assert store.list_messages(MessageQuery("ana"))
    finally:
        store.close()


def test_an_outage_is_no_events_fault(db_url: str) -> None:
    clock = FakeClock()
    store = _open(db_url, clock)
    try:
        orchestrator = Orchestrator(store, lambda: CATALOG, clock, "w1", retry=POLICY)
        store.accept_events([_signup("e1", "ana", clock())], clock())
        store.down = True
        with pytest.raises(sa.exc.OperationalError):
            orchestrator.run_once()
        status = store.event_record("e1")
        assert status is not None and status.attempts == 0 and status.last_error is None
        # The database is back: the claim's lease expires and the event is processed.
        store.down = False
        clock.advance(timedelta(minutes=1))
        assert orchestrator.run_once() == 1
        assert store.event_record("e1").state == "done"  # type: ignore[union-attr]
    finally:
        store.close()


def test_event_times_out_of_range_are_refused_at_intake(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'times.db'}"
    with running(settings_for(url, tmp_path, event_max_future_seconds=3600)) as (client, svc):
        now = svc.clock()
        for occurred_at in (
            "9999-12-31T00:00:00Z",
            (now + timedelta(hours=2)).isoformat(),
            "1969-12-31T23:59:59Z",
            "0001-01-01T00:00:00+01:00",
        ):
            body = {"type": "signup.started", "profile_id": "p", "occurred_at": occurred_at}
            for headers in ({}, {"Idempotency-Key": "k1"}):  # the short path and the route
                response = client.post("/v1/events", json=body, headers=headers)
                assert response.status_code == 422, (occurred_at, response.text)
                [field] = response.json()["fields"]
                assert field["field"] == "occurred_at", response.json()
            batch = client.post("/v1/events:batch", json={"events": [{**body, "id": "x"}]})
            assert batch.status_code == 422
            assert [f["field"] for f in batch.json()["fields"]] == ["events[0].occurred_at"]
        # Within the allowed skew, and the distant but real past, are accepted.
        for occurred_at in ((now + timedelta(minutes=59)).isoformat(), "1970-01-01T00:00:00Z"):
            body = {"type": "signup.started", "profile_id": "p", "occurred_at": occurred_at}
            assert client.post("/v1/events", json=body).status_code == 202
        assert svc.store.event_record("x") is None


def test_a_dead_event_does_not_stop_the_pipeline(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pipe.db'}"
    settings = settings_for(
        url,
        tmp_path,
        event_retry_base_seconds=0.01,
        event_retry_cap_seconds=0.01,
        run_workers=False,
    )
    clock = FakeClock()
    with running(settings, clock=clock) as (client, svc):
        client.put("/v1/profiles/ana", json={"email": "ana@example.com"})
        # Past intake's checks (as an older Clarion could have stored it).
        svc.store.accept_events([_signup("poison", "ana", FAR_FUTURE)], svc.clock())
        accepted = client.post(
            "/v1/events", json={"id": "good", "type": "signup.started", "profile_id": "ana"}
        )
        assert accepted.status_code == 202
        when_idle(svc, lambda: client.get("/v1/profiles/ana/messages").json()["messages"])
        for _ in range(settings.event_max_attempts):  # each retry after its 0.01 s backoff
            clock.advance(timedelta(seconds=1))
            svc.run_until_idle()
        status = svc.store.event_record("poison")
        assert status is not None and status.state == "dead"
        assert status.attempts == settings.event_max_attempts
        # Support sees it through the event's trace.
        trace = client.get("/v1/events/poison").json()
        assert (trace["state"], trace["processed"]) == ("dead", False)
        assert trace["attempts"] == settings.event_max_attempts
        assert "OverflowError" in trace["last_error"]
        assert {m["outcome"] for m in trace["messages"]} == {"dead_lettered"}
