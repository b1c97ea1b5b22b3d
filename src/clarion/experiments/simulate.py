"""``clarion simulate``: a synthetic population with a known effect, through the real pipeline.

Profiles trigger each simulated message; intake, the orchestrator (``decide()``
with its holdouts and A/B cells) and the dispatcher (sink provider) run on a
SQLite store at accelerated time (an injected clock). A profile that received a
message converts (emits the message's goal event) with probability
``base + lift`` (plus its A/B cell's extra lift); one that did not (held out)
with ``base``. The incrementality report is then computed as ``clarion report``
would, and set beside the truth it should recover.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from clarion.catalog import Catalog
from clarion.channels.sink import SinkProvider
from clarion.config import Settings
from clarion.core.model import Channel, Device, Event, Profile
from clarion.core.spec import CatalogSpec, MessageSpec
from clarion.experiments.report import Json, ReportRequest, incrementality
from clarion.experiments.scenario import Scenario, Truth
from clarion.runtime.dispatcher import Dispatcher
from clarion.runtime.intake import Intake
from clarion.runtime.orchestrator import Orchestrator
from clarion.service import build_store, build_workers
from clarion.store import SqlStore, migrate

#: A Monday, 08:00 UTC: triggers fire then; send windows open later that day.
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
#: How long after its triggers a round is dispatched (delays and send windows pass).
_DISPATCH_FOR = timedelta(hours=30)
_STEP = timedelta(hours=1)
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Simulation:
    """The report computed from the simulated run, and the truth per message."""

    report: Json
    truth: Mapping[str, Json]
    database: str  # the run's store (a SQLite URL), kept for ``clarion report``


def expected(spec: MessageSpec, truth: Truth) -> Json:
    """What the report should find for ``spec``: the overall lift (cells mixed by their
    shares) and each cell's lift over the control."""
    test = spec.experiment
    cells: dict[str, float] = {}
    overall = truth.lift
    if test is not None:
        control = truth.cells.get(test.cells[0].name, 0.0)
        for cell, share in zip(test.cells, test.shares, strict=True):
            overall += share * truth.cells.get(cell.name, 0.0)
            cells[cell.name] = truth.cells.get(cell.name, 0.0) - control
    return {"base": truth.base, "absolute_lift": overall, "cells": cells}


def simulate(scenario: Scenario, catalog: Catalog, workdir: Path) -> Simulation:
    """Run the scenario on a new SQLite database in ``workdir`` (replacing a previous
    run's: its event ids would be taken as replays)."""
    specs = _simulated_specs(scenario, catalog.spec)
    sim_catalog = _with_specs(catalog, specs)
    for stale in ("simulation.db", "simulation.db-wal", "simulation.db-shm", "sink.jsonl"):
        (workdir / stale).unlink(missing_ok=True)
    url = f"sqlite:///{workdir / 'simulation.db'}"
    settings = _settings(url)
    migrate(url)
    store = build_store(settings)
    try:
        asyncio.run(_run(scenario, sim_catalog, settings, store, workdir / "sink.jsonl"))
        report = incrementality(store, sim_catalog.spec, ReportRequest())
    finally:
        store.close()
    truth = {name: expected(specs[name], t) for name, t in scenario.messages.items()}
    return Simulation(report, truth, url)


def _simulated_specs(scenario: Scenario, spec: CatalogSpec) -> dict[str, MessageSpec]:
    unknown = sorted(set(scenario.messages) - set(spec.messages))
    if unknown:
        raise ValueError(f"messages not in the catalog: {unknown}")
    found: dict[str, MessageSpec] = {}
    for name, truth in scenario.messages.items():
        message = spec.messages[name]
        if message.goal is None:
            raise ValueError(f"{name}: has no goal to convert to")
        if truth.holdout is not None:
            variants = tuple(replace(v, holdout=truth.holdout) for v in message.variants)
            message = replace(message, holdout=truth.holdout, variants=variants)
        found[name] = message
    return found


def _with_specs(catalog: Catalog, specs: Mapping[str, MessageSpec]) -> Catalog:
    """The catalog with only the simulated messages (as the scenario adjusts them)."""
    return catalog.with_spec(CatalogSpec(dict(specs), catalog.spec.policy))


def _settings(url: str) -> Settings:
    """The pipeline's settings for a run: a throwaway database (no fsync), every channel
    to the sink, large batches."""
    return Settings(
        database_url=url,
        sqlite_synchronous="OFF",
        providers={},  # the run's sink is passed in: it keeps the simulated clock
        routes={channel: ["sink"] for channel in Channel},
        orchestrator_batch=_BATCH,
        dispatcher_batch=_BATCH,
    )


@dataclass(frozen=True, slots=True)
class _Fixed:
    """The run's catalog, as the workers read a live one."""

    current: Catalog


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _run(
    scenario: Scenario, catalog: Catalog, settings: Settings, store: SqlStore, sink_path: Path
) -> None:
    clock = _Clock(START)
    rng = random.Random(scenario.seed)
    sink = SinkProvider(sink_path, clock=clock)
    intake = Intake(store, clock, max_batch=_BATCH)
    # The service's workers, run a batch at a time by the simulated clock (no threads).
    workers = build_workers(settings, store, _Fixed(catalog), {"sink": sink}, clock)
    orchestrator, dispatcher = workers.orchestrator, workers.dispatcher
    sent = _Received(sink_path)
    people = [_profile(i) for i in range(scenario.profiles)]
    for person in people:
        store.upsert_profile(person, clock())
    # Rounds lie further apart than any goal window, so a conversion is attributed
    # only to its own round's decision.
    windows = [s.goal.within for s in catalog.spec.messages.values() if s.goal]
    spacing = max(windows, default=timedelta(0)) + _STEP * 24
    await intake.start()
    try:
        for number in range(scenario.rounds):
            clock.now = START + number * spacing
            triggers = [
                _trigger(spec, person.id, number)
                for spec in catalog.spec.messages.values()
                for person in people
            ]
            await _submit(intake, orchestrator, clock, triggers)
            await _dispatch(dispatcher, clock)
            received = sent.read()
            goals = _conversions(scenario, catalog.spec, people, received, number, rng, clock())
            await _submit(intake, orchestrator, clock, goals)
    finally:
        await intake.stop()
        await sink.aclose()


def _profile(index: int) -> Profile:
    pid = f"sim-{index:06d}"
    return Profile(
        id=pid,
        email=f"{pid}@example.com",
        phone=f"+1555{index:07d}",
        devices=(Device("phone", "ios", "17.0", None, f"token-{pid}"),),
    )


def _trigger(spec: MessageSpec, profile_id: str, number: int) -> Event:
    payload = dict(spec.example.event) if spec.example is not None else {}
    if spec.dedup is not None and len(spec.dedup.key) == 1:
        # A new value each round, so that dedup does not hide later rounds.
        payload[spec.dedup.key[0]] = f"{payload.get(spec.dedup.key[0], 'x')}-{number}"
    return Event(f"sim-{number}-{spec.name}-{profile_id}", spec.trigger, profile_id, START, payload)


async def _submit(
    intake: Intake, orchestrator: Orchestrator, clock: _Clock, events: Sequence[Event]
) -> None:
    """Accept the events as happening now, and decide them."""
    stamped = [replace(e, occurred_at=clock.now) for e in events]
    for start in range(0, len(stamped), _BATCH):
        await intake.submit(stamped[start : start + _BATCH])
    while orchestrator.run_once():
        pass


class _Received:
    """What the sink delivered since the last look: message -> profile -> A/B cell."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0

    def read(self) -> dict[str, dict[str, int | None]]:
        found: dict[str, dict[str, int | None]] = {}
        if not self._path.exists():
            return found
        with self._path.open("rb") as lines:
            lines.seek(self._offset)
            for line in lines:
                record = orjson.loads(line)
                cell = record["tracking"].get("abTestCell")
                found.setdefault(record["message"], {})[record["profile_id"]] = cell
            self._offset = lines.tell()
        return found


async def _dispatch(dispatcher: Dispatcher, clock: _Clock) -> None:
    """Move time on hour by hour, sending whatever falls due."""
    end = clock.now + _DISPATCH_FOR
    while clock.now < end:
        while await dispatcher.run_once():
            pass
        clock.now += _STEP


def _conversions(
    scenario: Scenario,
    spec: CatalogSpec,
    people: Sequence[Profile],
    received: Mapping[str, Mapping[str, int | None]],
    number: int,
    rng: random.Random,
    now: datetime,
) -> list[Event]:
    goals: list[Event] = []
    for name, truth in scenario.messages.items():
        message = spec.messages[name]
        assert message.goal is not None
        cells = message.experiment.cells if message.experiment is not None else ()
        got = received.get(name, {})
        for person in people:
            p = truth.base
            if person.id in got:
                cell = got[person.id]
                p += truth.lift
                p += truth.cells.get(cells[cell].name, 0.0) if cell is not None else 0.0
            if rng.random() < p:
                event_id = f"sim-{number}-{name}-goal-{person.id}"
                goals.append(Event(event_id, message.goal.event, person.id, now))
    return goals
