"""An A/B test of in-app copy: each profile's notification shows its cell's copy and
carries ``abTestId``/``abTestCell`` in its tracking info (SQLite and PostgreSQL)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from clarion.core.experiment import Cell, Experiment
from tests.integration.conftest import device_auth, fetch_center, inapp_settings
from tests.integration.pipeline_support import EXAMPLE_CATALOG, FakeClock, running, when_idle

TEST = """
experiment:
  id: 77
  cells:
    - {name: control, weight: 1}
    - name: terse
      weight: 1
      content: {inapp: {body: top_pick.center.cta_open}}
"""
PAYLOAD = {"title_id": "dark", "title": "Dark", "image": "https://img.example.com/dark.jpg"}


def test_inapp_notifications_carry_their_cell(db_url: str, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    with (catalog / "messages/top_pick.yaml").open("a") as file:
        file.write(TEST)
    test = Experiment(77, "", (Cell("control", 1), Cell("terse", 1)))
    people = [f"fan-{i}" for i in range(4)]
    assert {test.allocate(p) for p in people} == {0, 1}
    clock = FakeClock()
    with running(inapp_settings(db_url, tmp_path, catalog), clock=clock) as (client, service):
        for pid in people:
            assert client.put(f"/v1/profiles/{pid}", json={"timezone": "UTC"}).status_code == 200
            event = {"type": "recommendation.ready", "profile_id": pid, "payload": PAYLOAD}
            assert client.post("/v1/events", json=event).status_code == 202
            # Decided one by one: a later event of a batch is dated a tick after a
            # clock that stands still, and would not be due until it moved (what made
            # this test flaky with worker threads, when two events shared a batch).
            service.run_until_idle()
        for pid in people:
            device = device_auth(clock, pid)

            def listed(h: dict[str, str] = device) -> list[dict[str, Any]]:
                return list(fetch_center(client, h, locale="en")["notifications"])

            [item] = when_idle(service, listed)
            cell = test.allocate(pid)
            tracking = item["impressionFeedback"]["trackingInfo"]
            assert (tracking["abTestId"], tracking["abTestCell"]) == (77, cell)
            body = item["template"]["body"]["copy"][0]["content"]
            assert body == ("Watch now" if cell == 1 else "We think you'll love it. Watch now.")
