"""Exposures and conversions on both stores: goal events convert the decisions (sent and
held out) of their profile within the goal window, once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from clarion.core.experiment import Cell, Experiment, is_held_out
from clarion.core.model import Channel, Event, Profile
from clarion.core.spec import CatalogSpec, ChannelStep, Dedup, Goal, MessageSpec
from clarion.runtime.orchestrator import Orchestrator
from clarion.store import SqlStore
from clarion.store.records import ReportFilter
from clarion.store.schema import conversions, exposures
from clarion.store.sql import measurement

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WITHIN = timedelta(days=2)
SPEC = MessageSpec(
    name="nudge",
    id=1,
    category="engagement",
    trigger="thing.paused",
    channels=(ChannelStep(0, Channel.EMAIL, {"body": "k"}),),
    goal=Goal("thing.done", WITHIN),
    holdout=0.5,
)
IDS = [f"p{i}" for i in range(40)]
HELD = [p for p in IDS if is_held_out("nudge", p, 0.5)]
SENT = [p for p in IDS if p not in HELD]


@dataclass
class _Catalog:
    spec: CatalogSpec


class Pipeline:
    """The orchestrator on ``store`` with a hand-moved clock."""

    def __init__(self, store: SqlStore, spec: CatalogSpec) -> None:
        self.now = T0
        self.store = store
        self.orchestrator = Orchestrator(store, lambda: _Catalog(spec), self.clock, "test")  # type: ignore[arg-type,return-value]

    def clock(self) -> datetime:
        return self.now

    def send(self, *events: Event) -> None:
        self.store.accept_events(list(events), self.now)
        while self.orchestrator.run_once():
            pass


def _conversions(store: SqlStore) -> dict[str, str]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(conversions.c.guid, conversions.c.goal_event_id))
        return dict(rows.all())


def _exposures(store: SqlStore) -> dict[str, tuple[str, str]]:
    with store.engine.connect() as conn:
        x = exposures.c
        rows = conn.execute(sa.select(x.profile_id, x.guid, x.arm))
        return {pid: (guid, arm) for pid, guid, arm in rows}


def _setup(store: SqlStore) -> Pipeline:
    pipeline = Pipeline(store, CatalogSpec({"nudge": SPEC}))
    for pid in IDS:
        store.upsert_profile(Profile(pid, email=f"{pid}@example.com"), T0)
    pipeline.send(*(Event(f"t-{p}", "thing.paused", p, T0) for p in IDS))
    return pipeline


def test_sent_and_held_out_decisions_are_exposures(store: SqlStore) -> None:
    _setup(store)
    found = _exposures(store)
    assert HELD and SENT
    assert {p for p, (_, arm) in found.items() if arm == "held_out"} == set(HELD)
    assert {p for p, (_, arm) in found.items() if arm == "treated"} == set(SENT)
    message = store.get_message(found[HELD[0]][0])
    assert message is not None and message.reason == "held_out"


def test_goal_events_convert_within_the_window_on_both_arms(store: SqlStore) -> None:
    pipeline = _setup(store)
    found = _exposures(store)
    a, b, c, d = HELD[0], SENT[0], SENT[1], HELD[1]
    pipeline.now = T0 + WITHIN + timedelta(hours=1)
    pipeline.send(
        Event("g-a", "thing.done", a, T0),  # the instant of the decision: counts
        Event("g-b", "thing.done", b, T0 + WITHIN),  # the window's last instant: counts
        Event("g-c", "thing.done", c, T0 + WITHIN + timedelta(seconds=1)),  # too late
        Event("g-d", "thing.done", d, T0 - timedelta(seconds=1)),  # before the decision
        Event("g-x", "thing.other", SENT[2], T0 + timedelta(hours=1)),  # not the goal
    )
    assert _conversions(store) == {found[a][0]: "g-a", found[b][0]: "g-b"}


def test_attribution_is_idempotent_and_keeps_the_first_goal_event(store: SqlStore) -> None:
    pipeline = _setup(store)
    guid = _exposures(store)[SENT[0]][0]
    pipeline.now = T0 + timedelta(hours=3)
    pipeline.send(Event("g-1", "thing.done", SENT[0], T0 + timedelta(hours=1)))
    pipeline.send(Event("g-1", "thing.done", SENT[0], T0 + timedelta(hours=1)))  # a repeat
    pipeline.send(Event("g-2", "thing.done", SENT[0], T0 + timedelta(hours=2)))
    assert _conversions(store) == {guid: "g-1"}
    # Re-running attribution for an event already processed (a retried batch) adds nothing.
    hit = measurement.GoalHit("g-1", "thing.done", SENT[0], (T0 + timedelta(hours=1)).timestamp())
    with store.engine.begin() as conn:
        assert measurement.record(conn, [], [hit], T0.timestamp()) == 0
    assert _conversions(store) == {guid: "g-1"}


def test_a_goal_event_in_the_same_batch_as_its_decision_converts_it(store: SqlStore) -> None:
    pipeline = Pipeline(store, CatalogSpec({"nudge": SPEC}))
    pid = SENT[0]
    store.upsert_profile(Profile(pid, email="x@example.com"), T0)
    pipeline.send(
        Event("t", "thing.paused", pid, T0),
        Event("g", "thing.done", pid, T0 + timedelta(minutes=5)),
    )
    # The decision is created "now" (T0); the goal event occurred after it.
    assert list(_conversions(store).values()) == ["g"]


def test_profile_counts_aggregate_per_profile_and_arm(store: SqlStore) -> None:
    pipeline = _setup(store)
    pipeline.now = T0 + timedelta(days=3)  # past the first window: a second round
    pipeline.send(*(Event(f"t2-{p}", "thing.paused", p, pipeline.now) for p in IDS[:4]))
    pipeline.send(Event("g", "thing.done", IDS[0], pipeline.now + timedelta(hours=1)))
    counts = store.profile_counts(ReportFilter(), "total")
    arm0 = "held_out" if IDS[0] in HELD else "treated"
    assert counts["nudge", None, arm0][IDS[0]] == (2, 1)
    assert counts["nudge", None, "held_out" if IDS[5] in HELD else "treated"][IDS[5]] == (1, 0)
    total = sum(
        n for arm in ("treated", "held_out") for n, _ in counts["nudge", None, arm].values()
    )
    assert total == len(IDS) + 4
    weeks = store.profile_counts(ReportFilter(), "week")
    assert {week for _, week, _ in weeks} == {"2026-03-02"}
    later = store.profile_counts(ReportFilter(since=T0 + timedelta(days=1)), "total")
    assert sum(len(v) for v in later.values()) == 4
    assert store.profile_counts(ReportFilter(message="other"), "channel") == {}


def test_exposures_keep_the_held_out_share_they_were_decided_under(store: SqlStore) -> None:
    pipeline = _setup(store)  # decided with a 50% holdout
    # The catalog changes to 10%: later decisions record it; earlier ones keep 50%.
    pipeline.orchestrator = Orchestrator(
        store,
        lambda: _Catalog(CatalogSpec({"nudge": replace(SPEC, holdout=0.1)})),  # type: ignore[arg-type,return-value]
        pipeline.clock,
        "test",
    )
    pipeline.now = T0 + timedelta(days=3)
    pipeline.send(*(Event(f"t2-{p}", "thing.paused", p, pipeline.now) for p in IDS[:4]))
    assert store.planned_holdouts(ReportFilter()) == {"nudge": {0.5: len(IDS), 0.1: 4}}
    later = ReportFilter(since=T0 + timedelta(days=1))
    assert store.planned_holdouts(later) == {"nudge": {0.1: 4}}
    assert store.planned_holdouts(ReportFilter(message="other")) == {}


def test_cells_are_recorded_on_messages_and_exposures(store: SqlStore) -> None:
    test = Experiment(3, "", (Cell("a", 1), Cell("b", 1)))
    spec = MessageSpec(
        name="ab",
        id=2,
        category="engagement",
        trigger="thing.paused",
        channels=SPEC.channels,
        goal=SPEC.goal,
    )
    spec = replace(spec, experiment=test, variants=(spec, spec))
    pipeline = Pipeline(store, CatalogSpec({"ab": spec}))
    store.upsert_profile(Profile("q", email="q@example.com"), T0)
    pipeline.send(Event("t", "thing.paused", "q", T0))
    [record] = [m for m in [store.get_message(g) for g, _ in _exposures(store).values()] if m]
    assert (record.ab_test_id, record.ab_test_cell) == (3, test.allocate("q"))
    [entry] = store.timeline(record.guid)
    assert (entry.detail["abTestId"], entry.detail["abTestCell"]) == (3, test.allocate("q"))
    cells = store.profile_counts(ReportFilter(), "cell")
    assert cells == {("ab", test.allocate("q"), "treated"): {"q": (1, 0)}}


def test_held_out_messages_come_back_in_history_and_dedup_within_a_batch(
    store: SqlStore,
) -> None:
    _setup(store)
    found = store.history([HELD[0], SENT[0]], T0 - timedelta(days=1))
    assert [m.held_out for m in found[HELD[0]]] == [True]
    assert [m.held_out for m in found[SENT[0]]] == [False]
    spec = replace(SPEC, name="once", dedup=Dedup(("k",), timedelta(days=3)))
    pipeline = Pipeline(store, CatalogSpec({"once": spec}))
    out_id = next(p for p in IDS if is_held_out("once", p, 0.5))
    pipeline.send(  # one batch: the second event must see the first's held-out decision
        Event("a", "thing.paused", out_id, T0, {"k": 1}),
        Event("b", "thing.paused", out_id, T0, {"k": 1}),
    )
    history = store.history([out_id], T0 - timedelta(days=1))[out_id]
    messages = [store.get_message(m.guid) for m in history]
    assert sorted((m.message, m.reason) for m in messages if m and m.message == "once") == [
        ("once", "duplicate"),
        ("once", "held_out"),
    ]
