"""The benchmarks' shared measuring code (bench/measure.py, bench/loadgen.py): what counts
as accepted and delivered, where latency starts, and when a run meets its target."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from itertools import count
from pathlib import Path

from bench import e2e_bench, h2load, loadgen
from bench.measure import (
    CpuMeter,
    CpuUsage,
    Deliveries,
    Floor,
    Intake,
    due_times,
    latencies_from_due,
    report,
    varied_events,
)

from clarion.channels.apns import ApnsAuth
from tests.peers.apns import ApnsPeer, ApnsRequest
from tests.peers.keys import ec_key


def _report(intake: Intake, delivered: int = 10, expected: int = 10) -> dict[str, object]:
    return report(
        intake=intake,
        delivered=delivered,
        expected=expected,
        duplicates=0,
        cpu=CpuUsage(0.5, 1.0),
        rate_ok=True,
    )


def test_distinct_guids_ignore_repeats_and_keep_the_first_arrival() -> None:
    seen = Deliveries().extend([("G1", 10.0), ("G2", 11.0), ("G1", 12.0), ("G1", 9.5)])

    assert len(seen) == 2
    assert seen.duplicates == 2
    assert seen.first["G1"] == 9.5
    assert seen.within(10.0, 11.0) == 1  # G1 first arrived at 9.5


def test_latency_runs_from_the_due_time_of_the_events_request() -> None:
    # Request 0 was due at 100.0, request 1 at 100.5; request 2 was not accepted.
    due: list[float | None] = [100.0, 100.5, None]
    arrivals = [("r0-0", 100.25), ("r0-1", 101.0), ("r0-2", 101.0), ("other-0", 100.125)]

    assert latencies_from_due(arrivals, due, "r0-") == [250.0, 500.0]


def test_latency_of_batched_events_runs_from_their_requests_due_time() -> None:
    due: list[float | None] = [10.0, 11.0]

    # Events 0-2 went in request 0, events 3-5 in request 1.
    latencies = latencies_from_due([("b-2", 10.25), ("b-3", 11.5)], due, "b-", batch=3)

    assert latencies == [250.0, 500.0]


def test_latency_leaves_out_events_due_before_the_steady_state() -> None:
    due: list[float | None] = [1.0, 5.0]

    assert latencies_from_due([("t-0", 6.0), ("t-1", 6.0)], due, "t-", since=2.0) == [1000.0]


def test_intake_counts_only_expected_answers_as_accepted() -> None:
    summary = {"accepted": 98, "errors": 1, "bad_status": {"429": 2, "503": 1}}

    intake = Intake.of(summary)

    assert (intake.accepted, intake.refused, intake.errors) == (98, 3, 1)
    assert not intake.clean


def test_a_clean_run_that_delivers_everything_meets_its_target() -> None:
    out = _report(Intake(10, 0, 0))

    assert out["target_met"] is True
    assert out["cpu_us_per_message"] == 50_000.0
    assert out["cores_used"] == 0.5


def test_a_run_with_one_error_does_not_meet_its_target() -> None:
    out = _report(Intake(10, 0, 1))

    assert out["errors"] == 1
    assert out["target_met"] is False


def test_a_run_with_refused_requests_does_not_meet_its_target() -> None:
    out = _report(Intake(10, 2, 0, {"429": 2}))

    assert out["refused"] == 2
    assert out["refused_by_status"] == {"429": 2}
    assert out["target_met"] is False


def test_a_run_missing_deliveries_does_not_meet_its_target() -> None:
    assert _report(Intake(10, 0, 0), delivered=9)["target_met"] is False


def test_the_ratio_to_the_floor_is_the_rate_over_the_floors_rate() -> None:
    out = report(
        intake=Intake(10, 0, 0),
        delivered=10,
        expected=10,
        duplicates=0,
        cpu=CpuUsage(1.0, 2.0),
        rate_ok=True,
        messages_per_s=500.0,
        floor=Floor("raw inserts", 2000.0),
    )

    assert out["ratio_to_floor"] == 0.25


def test_cpu_meter_counts_this_process_cpu() -> None:
    meter = CpuMeter([os.getpid()]).start()
    sum(i * i for i in range(3_000_000))  # burn some CPU (well over a clock tick)

    assert meter.stop().cpu_s > 0


def test_varied_events_differ_in_amount_currency_and_title() -> None:
    lines = varied_events("payment.failed", "r1", 200, seed=3)
    payloads = [json.loads(line)["payload"] for line in lines]

    assert len({p["amount"] for p in payloads}) > 150
    assert len({p["currency"] for p in payloads}) > 4
    assert len({p["show_title"] for p in payloads}) > 100
    assert all('"id": "r1-$SEQ"' in line and "p$PROFILE" in line for line in lines)


def _statuses_server(
    statuses: list[int], delay: float
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A keep-alive HTTP server answering requests with ``statuses`` in turn."""
    turn = count()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                await asyncio.sleep(delay)
                status = statuses[next(turn) % len(statuses)]
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\n{{}}".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return serve


async def _drive(
    plan_kwargs: dict[str, object], statuses: list[int], delay: float
) -> tuple[loadgen.Plan, loadgen.Results, float, float]:
    server = await asyncio.start_server(_statuses_server(statuses, delay), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    plan = loadgen.Plan(host="127.0.0.1", port=port, path="/v1/events", **plan_kwargs)  # type: ignore[arg-type]
    try:
        results, start, end, _ = await loadgen.run(plan)
    finally:
        server.close()
    return plan, results, start, end


def test_loadgen_counts_only_202_answers_as_accepted() -> None:
    plan, results, start, end = asyncio.run(
        _drive({"template": '{"id":"$SEQ"}', "connections": 2, "total": 10}, [202, 429], 0.0)
    )

    summary = loadgen.summarize(plan, results, start, end)

    assert summary["requests"] == 10
    assert summary["accepted"] == 5
    assert summary["bad_status"] == {429: 5}
    assert Intake.of(json.loads(json.dumps(summary))).refused == 5


def test_loadgen_schedules_open_loop_and_logs_due_times_of_accepted_requests(
    tmp_path: Path,
) -> None:
    # One connection, a server taking 20 ms per answer and 1,000 requests/s offered:
    # the later requests go out long after they were due.
    plan, results, start, _ = asyncio.run(
        _drive(
            {"template": "{}", "connections": 1, "total": 6, "rate": 1000.0},
            [202, 202, 503],
            0.02,
        )
    )

    assert [round(results.due[i] - start, 6) for i in range(6)] == [
        0.0, 0.001, 0.002, 0.003, 0.004, 0.005
    ]  # fmt: skip
    assert results.sent[5] - results.due[5] > 0.05
    summary = loadgen.summarize(plan, results, start, start + 1)
    p99 = summary["latency_ms"]["p99"]  # type: ignore[index]
    assert p99 >= (results.done[5] - results.due[5]) * 1000 - 0.01  # from due, not from send
    assert list(results.ok) == [1, 1, 0, 1, 1, 0]
    log = tmp_path / "log.json"
    log.write_text(json.dumps(loadgen.due_log(plan, results, start, 1000.0)))
    due, batch = due_times(log)
    assert batch == 1
    assert due == [1000.0, 1000.001, None, 1000.003, 1000.004]  # the refused ones: None


def test_h2load_counts_only_the_expected_answers_of_an_http2_peer() -> None:
    key = ec_key()
    answers = count()

    def reply(request: ApnsRequest) -> tuple[int, str | None]:
        return (200, None) if next(answers) % 3 else (429, "TooManyRequests")

    peer = ApnsPeer(key.public_pem, "TEAM123456", "KEY1234567", "t", reply=reply).start()
    token = ApnsAuth("TEAM123456", "KEY1234567", key.private_pem).token()
    headers = [("authorization", f"bearer {token}"), ("apns-topic", "t")]
    headers.append(("apns-push-type", "alert"))
    try:
        summary = asyncio.run(
            h2load.run(f"{peer.base_url}/3/device/{0:064x}", headers, b'{"aps":{}}', 0.3, 2, 5, 200)
        )
    finally:
        peer.stop()

    refused = summary["bad_status"]
    assert isinstance(refused, dict)
    assert summary["errors"] == 0
    assert summary["accepted"] + refused["429"] == peer.count
    assert refused["429"] == (peer.count + 2) // 3


def test_e2e_counts_a_guid_the_sink_wrote_twice_once() -> None:
    sink = [
        b'{"guid":"G1","tracking":{"eventGuid":"r0-0"}}',
        b'{"guid":"G1","tracking":{"eventGuid":"r0-0"}}',  # a repeated send
        b'{"guid":"G2","tracking":{"eventGuid":"r0-1"}}',
        b'{"guid":"G3","tracking":{"eventGuid":"r1-0"}}',  # another run's
    ]

    assert e2e_bench._count_tag(sink, b"r0") == 2


def test_e2e_latency_is_from_the_due_time_and_repeats_are_not_deliveries(
    tmp_path: Path,
) -> None:
    log = tmp_path / "sent.json"
    log.write_text(json.dumps({"batch": 1, "due": [100.0, 101.0]}))
    arrivals = [
        ("G1", "r0-0", 100.5),
        ("G1", "r0-0", 103.0),  # the same message again: neither a delivery nor a latency
        ("G2", "r0-1", 101.25),
        ("G3", "r9-0", 101.0),
    ]

    deliveries, in_window, latencies = e2e_bench.arrival_figures(arrivals, log, "r0", 0.0, 102.0)

    assert len(deliveries) == 2
    assert deliveries.duplicates == 1
    assert in_window == 2
    assert latencies == [250.0, 500.0]
