"""The escalation worker around the pure rules: one rung it cannot move holds up no other."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from clarion.core.escalation import LadderMove, OpenRung
from clarion.core.model import Channel, Event, PastMessage, Profile, Status
from clarion.core.spec import Rung
from clarion.runtime.escalator import Escalator
from clarion.store.base import Store
from tests.unit.core_fixtures import T0, catalog, message, step


@dataclass
class FakeStore:
    """The four calls the escalation worker makes, answered from lists."""

    rungs: list[OpenRung]
    moved: list[LadderMove] = field(default_factory=list)

    def open_rungs(self, now: datetime, limit: int, owner: str) -> list[OpenRung]:
        return self.rungs[:limit]

    def get_profiles(self, profile_ids: Iterable[str]) -> dict[str, Profile]:
        return {pid: Profile(id=pid, phone="+5511912345678") for pid in profile_ids}

    def history(self, profile_ids: Iterable[str], since: datetime) -> dict[str, list[PastMessage]]:
        return {}

    def apply_ladder_moves(
        self, moves: Sequence[LadderMove], now: datetime, owner: str
    ) -> list[str]:
        self.moved += moves
        return [m.guid for m in moves]


def test_a_rung_the_rules_cannot_move_holds_up_no_other() -> None:
    channels = (step(0, Channel.PUSH), step(1, Channel.SMS))
    ladder = (Rung(0, timedelta(minutes=5)), Rung(1))
    good = message("good", category="account", channels=channels, escalation=ladder)
    # A definition its own ladder does not fit (step 7 does not exist): move() raises.
    broken = message(
        "broken", category="account", channels=channels, escalation=(*ladder[:1], Rung(7))
    )
    event = Event("e1", "thing.happened", "ana", T0)

    def rung(name: str) -> OpenRung:
        return OpenRung(f"g-{name}", event, "ana", name, Channel.PUSH, 0, Status.FAILED, T0)

    store = FakeStore([rung("broken"), rung("good")])
    spec = catalog(good, broken)
    escalator = Escalator(
        cast(Store, store), lambda: cast(Any, SimpleNamespace(spec=spec)), lambda: T0, "w1"
    )

    assert escalator.run_once() == 1
    [moved] = store.moved
    assert moved.guid == "g-good" and [d.channel for d in moved.decisions] == [Channel.SMS]
