"""decide() alone on one core: decisions per second over the example catalog.

Each call decides one event for one profile with a realistic recent history
(a few sent messages), cycling through the catalog's triggers.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clarion.catalog import load_catalog
from clarion.core.decide import decide
from clarion.core.model import Channel, Device, Event, PastMessage, Profile, Status

CATALOG = Path(__file__).parents[1] / "catalog"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def main(seconds: float = 3.0) -> dict[str, object]:
    spec = load_catalog(CATALOG).spec
    profiles = [
        Profile(
            id=f"p{i}",
            locale="en",
            timezone=["UTC", "America/Sao_Paulo", "Europe/Lisbon", "Asia/Tokyo"][i % 4],
            email=f"p{i}@example.com",
            phone="+15551234567",
            account_id=f"a{i}",
            attributes={"watchlist": ["s1", "s2"], "plan": "standard"},
            devices=(Device("d1", "ios", "16.0", None, "tok"),),
        )
        for i in range(1000)
    ]
    history = {
        p.id: [
            PastMessage(
                f"G{p.id}{k}",
                "new_season",
                Channel.PUSH,
                Status.SENT,
                NOW - timedelta(hours=k * 7),
                f"new_season:s{k}",
                (),
                f"old{k}",
            )
            for k in range(4)
        ]
        for p in profiles
    }
    payloads = {
        "payment.failed": {"amount": 15.49, "currency": "USD", "show_title": "Dark"},
        "season.released": {"show_id": "s9", "show_title": "Dark", "season": 2},
        "play.paused": {
            "show_id": "s1",
            "show_title": "Dark",
            "episode_title": "Ep",
            "progress": 0.4,
        },
        "signup.started": {"plan": "standard"},
    }
    events = [
        Event(f"e{i}", etype, profiles[i % 1000].id, NOW, payloads[etype], f"a{i % 1000}")
        for i, etype in enumerate(list(payloads) * 250)
    ]
    lookup = {p.id: p for p in profiles}
    done = decisions = 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for event in events:
            own = {event.profile_id: lookup[event.profile_id]}
            decisions += len(decide(event, own, history, spec, NOW).decisions)
        done += len(events)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {
        "bench": "decide",
        "events_per_s": round(done / elapsed),
        "decisions_per_s": round(decisions / elapsed),
        # Per second of this process's own CPU time: what one core does, even
        # when other processes share the machine.
        "decisions_per_cpu_s": round(decisions / cpu),
        "mean_us_per_event": round(elapsed / done * 1e6, 2),
        "target_decisions_per_s": 50_000,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
