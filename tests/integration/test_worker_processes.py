"""``worker_processes``: the workers in child processes of the API, on the same database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clarion.channels.sink import read_sink
from clarion.runtime.clock import system_clock
from tests.integration.pipeline_support import running, settings_for, wait_for

PAYMENT = {"amount": 15.49, "currency": "USD", "show_title": "Dark"}


def _profile(client: Any, pid: str) -> None:
    body = {"email": f"{pid}@example.com", "phone": "+15551234567", "locale": "en"}
    assert client.put(f"/v1/profiles/{pid}", json=body).status_code == 200
    device = {"platform": "ios", "app_version": "16.2.0", "push_token": f"tok-{pid}"}
    assert client.put(f"/v1/profiles/{pid}/devices/phone", json=device).status_code == 200


def _deliver_through_children(db_url: str, tmp_path: Path, children: int) -> None:
    settings = settings_for(db_url, tmp_path, worker_processes=children)
    sink = tmp_path / "sink.jsonl"
    with running(settings, clock=system_clock) as (client, service):
        assert not hasattr(service.workers, "orchestrator")  # nothing runs in this process
        for n in range(3):
            _profile(client, f"p{n}")
            event = {"id": f"e{n}", "type": "payment.failed", "profile_id": f"p{n}"}
            response = client.post("/v1/events", json={**event, "payload": PAYMENT})
            assert response.status_code == 202
        lines = wait_for(lambda: sink.exists() and len(read_sink(sink)) >= 12 and read_sink(sink))
        assert sorted({line["profile_id"] for line in lines}) == ["p0", "p1", "p2"]
        messages = client.get("/v1/profiles/p0/messages").json()["messages"]
        guid = messages[0]["guid"]
        timeline = client.get(f"/v1/messages/{guid}").json()["timeline"]
        # The sink takes no idempotency key: its call is recorded first (status sending).
        assert [entry["status"] for entry in timeline] == [
            "scheduled",
            "sending",
            "sending",
            "delivered",
        ]
    assert len(read_sink(sink)) == 12  # every message once, and the children have stopped


def test_one_child_runs_both_roles(db_url: str, tmp_path: Path) -> None:
    _deliver_through_children(db_url, tmp_path, 1)


def test_two_children_split_orchestration_and_dispatch(tmp_path: Path) -> None:
    _deliver_through_children(f"sqlite:///{tmp_path / 'clarion.db'}", tmp_path, 2)


def test_workers_can_run_a_single_role(tmp_path: Path) -> None:
    from clarion.runtime.catalog_holder import CatalogHolder
    from clarion.runtime.workers import Workers
    from clarion.store import SqlStore, migrate

    url = f"sqlite:///{tmp_path / 'c.db'}"
    migrate(url)
    store = SqlStore(url)
    settings = settings_for(url, tmp_path)
    holder = CatalogHolder(settings.catalog)
    only_dispatch = Workers(store, holder, {}, settings, system_clock, orchestrate=False)
    only_orchestrate = Workers(store, holder, {}, settings, system_clock, dispatch=False)
    assert [t.name for t in only_dispatch._threads] == ["clarion-dispatcher"]
    assert [t.name for t in only_orchestrate._threads] == ["clarion-orchestrator"]
    store.close()
