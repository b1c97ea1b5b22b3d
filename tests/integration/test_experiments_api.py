"""Holdouts and A/B tests through the whole pipeline, and the incrementality report
endpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from clarion.api.reports import IncrementalityOut
from clarion.channels.sink import read_sink
from clarion.core.experiment import Cell, Experiment, is_held_out
from tests.integration.pipeline_support import FakeClock, running, settings_for, when_idle

PAUSED = {"show_id": "dark", "show_title": "Dark", "episode_title": "Secrets", "progress": 0.4}
CANDIDATES = [f"viewer-{i}" for i in range(400)]
HELD = [p for p in CANDIDATES if is_held_out("continue_watching", p, 0.05)][:3]
TREATED = [p for p in CANDIDATES if not is_held_out("continue_watching", p, 0.05)][:3]


def _profile(client: TestClient, pid: str) -> None:
    body = {"timezone": "UTC", "email": f"{pid}@example.com", "phone": "+5511912345678"}
    assert client.put(f"/v1/profiles/{pid}", json=body).status_code == 200
    device = {"platform": "ios", "app_version": "16.2.0", "push_token": f"tok-{pid}"}
    assert client.put(f"/v1/profiles/{pid}/devices/phone", json=device).status_code == 200


def _messages(client: TestClient, pid: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(f"/v1/profiles/{pid}/messages").json()["messages"]
    return found


def _report(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/v1/reports/incrementality", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    IncrementalityOut.model_validate(body)  # the documented schema
    return body


def test_held_out_decisions_are_recorded_never_sent_and_reported(
    db_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    assert len(HELD) == 3
    settings = settings_for(db_url, tmp_path, run_workers=False)
    with running(settings, clock=clock) as (client, service):
        for pid in HELD + TREATED:
            _profile(client, pid)
            event = {"id": f"p-{pid}", "type": "play.paused", "profile_id": pid, "payload": PAUSED}
            assert client.post("/v1/events", json=event).status_code == 202
        when_idle(service, lambda: all(_messages(client, p) for p in HELD + TREATED))
        for pid in HELD:
            [held] = _messages(client, pid)
            assert (held["status"], held["reason"], held["channel"]) == (
                "suppressed",
                "held_out",
                "push",
            )
        clock.advance(timedelta(hours=2))
        when_idle(
            service, lambda: all(_messages(client, p)[0]["status"] == "delivered" for p in TREATED)
        )
        sent_to = {r["profile_id"] for r in read_sink(tmp_path / "sink.jsonl")}
        assert sent_to == set(TREATED)
        clock.advance(timedelta(hours=1))
        for pid in [HELD[0], TREATED[0], TREATED[1]]:
            goal = {"id": f"g-{pid}", "type": "play.started", "profile_id": pid}
            assert client.post("/v1/events", json=goal).status_code == 202

        def converted() -> dict[str, Any] | None:
            body = _report(client, message="continue_watching")
            [entry] = body["messages"]
            overall = entry["overall"]
            done = overall["treated"]["conversions"] + overall["held_out"]["conversions"]
            return entry if done == 3 else None

        entry = when_idle(service, converted)
        overall = entry["overall"]
        assert overall["treated"] == {
            "profiles": 3,
            "decisions": 3,
            "conversions": 2,
            "rate": 2 / 3,
        }
        assert overall["held_out"] == {
            "profiles": 3,
            "decisions": 3,
            "conversions": 1,
            "rate": 1 / 3,
        }
        lift = overall["lift"]
        assert abs(lift["absolute"]["value"] - 1 / 3) < 1e-9
        assert lift["absolute"]["low"] < 1 / 3 < lift["absolute"]["high"]
        assert lift["always_valid"]["low"] <= lift["absolute"]["low"]
        assert abs(lift["incremental_conversions"]["value"] - 1.0) < 1e-9
        assert overall["srm"]["expected"] == {"treated": 6 * 0.95, "held_out": 6 * 0.05}
        assert entry["holdout"] == 0.05 and entry["goal"]["event"] == "play.started"
        assert [c["channel"] for c in entry["channels"]] == ["push"]
        assert [w["week"] for w in entry["weeks"]] == ["2026-03-02"]
        assert entry["experiment"] is None
        # A window that excludes every decision reports nothing.
        assert _report(client, since="2026-03-09T00:00:00Z")["messages"] == []


def test_ab_cells_travel_in_tracking_with_their_copy(db_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    test = Experiment(31, "", (Cell("control", 1), Cell("benefit_first", 1)))
    people = [f"signup-{i}" for i in range(6)]
    cells = {p: test.allocate(p) for p in people}
    assert set(cells.values()) == {0, 1}
    settings = settings_for(db_url, tmp_path, run_workers=False)
    with running(settings, clock=clock) as (client, service):
        for pid in people:
            _profile(client, pid)
            event = {"id": f"s-{pid}", "type": "signup.started", "profile_id": pid}
            assert client.post("/v1/events", json=event).status_code == 202
        when_idle(service, lambda: all(_messages(client, p) for p in people))
        for pid in people:
            [message] = _messages(client, pid)
            assert (message["ab_test_id"], message["ab_test_cell"]) == (31, cells[pid])
        clock.advance(timedelta(hours=25))  # past the delay, inside the 10-20 window
        service.run_until_idle()
        records: list[dict[str, Any]] = read_sink(tmp_path / "sink.jsonl")
        assert len(records) == 6
        for record in records:
            cell = cells[record["profile_id"]]
            assert (record["tracking"]["abTestId"], record["tracking"]["abTestCell"]) == (31, cell)
            subject = record["fields"]["subject"]
            assert subject == (
                "Your account is almost ready"
                if cell == 0
                else "Unlimited shows and movies, one step away"
            )
        goal = {"id": "done-0", "type": "signup.completed", "profile_id": people[0]}
        client.post("/v1/events", json=goal)

        def report() -> dict[str, Any] | None:
            [entry] = _report(client, message="signup_dropoff")["messages"]
            test_report = entry["experiment"]
            converted = sum(c["conversions"] for c in test_report["cells"])
            return test_report if converted == 1 else None

        test_report = when_idle(service, report)
        assert test_report["id"] == 31
        assert [c["name"] for c in test_report["cells"]] == ["control", "benefit_first"]
        assert sum(c["decisions"] for c in test_report["cells"]) == 6
        assert [c["name"] for c in test_report["comparisons"]] == ["benefit_first"]
        assert test_report["srm"]["expected"] == {"control": 3.0, "benefit_first": 3.0}


def test_report_parameters_are_checked(db_url: str, tmp_path: Path) -> None:
    with running(settings_for(db_url, tmp_path)) as (client, _):
        cases = [
            ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
            ({"since": "yesterday"}, "since"),
            ({"until": "2026-03-02T00:00:00"}, "until"),  # no time zone
            ({"alpha": "2"}, "alpha"),
            ({"message": "no_such_message"}, "message"),
        ]
        for params, field in cases:
            response = client.get("/v1/reports/incrementality", params=params)
            assert response.status_code == 422, (params, response.text)
            assert [f["field"] for f in response.json()["fields"]] == [field]
        assert _report(client) == {"since": None, "until": None, "alpha": 0.05, "messages": []}
        anonymous = client.get("/v1/reports/incrementality", headers={"Authorization": ""})
        assert anonymous.status_code == 401
