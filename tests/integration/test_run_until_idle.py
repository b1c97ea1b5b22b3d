"""``Service.run_until_idle``: the workers' steps run on the test's thread until
nothing is due, so a pipeline test acts, runs them, and asserts without polling."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clarion.core.partitions import PARTITIONS
from tests.integration.pipeline_support import FakeClock, running, settings_for

EVENT = {"type": "signup.started", "profile_id": "ana"}
ANA = {"timezone": "UTC", "email": "ana@example.com"}


def _statuses(client: TestClient, pid: str) -> list[str]:
    answer = client.get(f"/v1/profiles/{pid}/messages")
    assert answer.status_code == 200, answer.text
    return [m["status"] for m in answer.json()["messages"]]


def test_nothing_runs_until_asked_then_everything_due_runs(db_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    with running(settings_for(db_url, tmp_path, run_workers=False), clock=clock) as (client, svc):
        assert client.put("/v1/profiles/ana", json=ANA).status_code == 200
        assert client.post("/v1/events", json={**EVENT, "id": "e-1"}).status_code == 202
        assert client.get("/v1/events/e-1").json()["processed"] is False  # no worker threads
        assert svc.run_until_idle() > 0
        assert client.get("/v1/events/e-1").json()["processed"] is True
        assert _statuses(client, "ana") == ["scheduled"]  # the 24 h delay has not passed
        assert svc.run_until_idle() == 0  # idle: nothing is due at this time
        assert _statuses(client, "ana") == ["scheduled"]
        clock.advance(timedelta(hours=25))
        assert svc.run_until_idle() > 0
        assert _statuses(client, "ana") == ["delivered"]


def test_refused_while_worker_threads_run(db_url: str, tmp_path: Path) -> None:
    with (
        running(settings_for(db_url, tmp_path)) as (_, svc),
        pytest.raises(RuntimeError, match="run_workers=False"),
    ):
        svc.run_until_idle()


def test_refused_when_another_worker_holds_partitions(db_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    with running(settings_for(db_url, tmp_path, run_workers=False), clock=clock) as (_, svc):
        # A live worker on another host holds every partition, under a long lease:
        # events of those partitions are not this service's to decide.
        svc.store.hold_partitions("elsewhere:1:abc", clock(), timedelta(hours=1), frozenset())
        with pytest.raises(RuntimeError, match=rf"holds \d+ of {PARTITIONS} partitions"):
            svc.run_until_idle()


def test_a_step_that_stays_busy_is_reported(db_url: str, tmp_path: Path) -> None:
    with running(settings_for(db_url, tmp_path, run_workers=False)) as (client, svc):
        assert client.put("/v1/profiles/ana", json=ANA).status_code == 200
        for i in range(3):
            assert client.post("/v1/events", json={**EVENT, "id": f"e-{i}"}).status_code == 202
        with pytest.raises(RuntimeError, match="still busy after 0 rounds"):
            svc.run_until_idle(max_rounds=0)
