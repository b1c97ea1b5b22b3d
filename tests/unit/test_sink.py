import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from clarion.channels.base import DeviceAddress, Outgoing, Provider
from clarion.channels.sink import SinkProvider, read_sink
from clarion.core.model import Channel

FIXED_NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def outgoing(n: int, **overrides: object) -> Outgoing:
    values: dict[str, object] = {
        "guid": f"G{n:08d}",
        "channel": Channel.PUSH,
        "message": "payment_failed",
        "message_id": 7,
        "category": "account",
        "profile_id": f"p{n}",
        "locale": "en",
        "fields": {"title": "Your payment didn't go through", "body": "Update it **now**"},
    }
    values.update(overrides)
    return Outgoing(**values)  # type: ignore[arg-type]


def test_send_appends_one_line_and_acknowledges_delivery(tmp_path: Path) -> None:
    path = tmp_path / "out" / "sink.jsonl"
    sink = SinkProvider(path, clock=lambda: FIXED_NOW)
    message = outgoing(
        1,
        email="ada@example.com",
        devices=(DeviceAddress(id="d1", platform="ios", push_token="tok"),),
        attempt=2,
        tracking={"abTestId": "t1", "abTestCell": 2},
    )

    receipt = asyncio.run(sink.send(message))

    assert receipt.provider == "sink"
    assert receipt.ref == message.guid
    assert receipt.delivered
    assert read_sink(path) == [
        {
            "guid": "G00000001",
            "channel": "push",
            "message": "payment_failed",
            "message_id": 7,
            "category": "account",
            "profile_id": "p1",
            "locale": "en",
            "fields": {"title": "Your payment didn't go through", "body": "Update it **now**"},
            "email": "ada@example.com",
            "devices": [{"id": "d1", "platform": "ios", "push_token": "tok", "app_version": None}],
            "attempt": 2,
            "tracking": {"abTestId": "t1", "abTestCell": 2},
            "sent_at": "2024-05-01T12:00:00+00:00",
        }
    ]


def test_absent_addresses_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "sink.jsonl"
    asyncio.run(SinkProvider(path).send(outgoing(1)))
    (line,) = read_sink(path)
    assert not {"email", "phone", "country", "devices"} & set(line)


def test_concurrent_tasks_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "sink.jsonl"
    sink = SinkProvider(path, name="bulk")
    big_copy = {"body": "x" * 20_000}  # larger than a pipe buffer, still one line

    async def send_many(worker: int) -> None:
        for i in range(50):
            await sink.send(outgoing(worker * 1000 + i, fields=big_copy))
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(send_many(w) for w in range(40)))
        await sink.aclose()

    asyncio.run(main())

    records = read_sink(path)
    assert len(records) == 40 * 50
    assert {r["guid"] for r in records} == {
        f"G{w * 1000 + i:08d}" for w in range(40) for i in range(50)
    }
    assert all(r["fields"] == big_copy for r in records)


def test_lines_are_readable_before_aclose(tmp_path: Path) -> None:
    # What a SIGKILLed process leaves behind: no close, no flush at exit.
    path = tmp_path / "sink.jsonl"
    sink = SinkProvider(path)
    asyncio.run(sink.send(outgoing(1)))
    asyncio.run(sink.send(outgoing(2)))

    with path.open("rb") as separate:
        lines = separate.read().splitlines()

    assert [orjson.loads(line)["guid"] for line in lines] == ["G00000001", "G00000002"]
    asyncio.run(sink.aclose())


KILLED_WRITER = """
import asyncio, sys
from pathlib import Path
from clarion.channels.base import Outgoing
from clarion.channels.sink import SinkProvider

async def main() -> None:
    sink = SinkProvider(Path(sys.argv[1]))
    for n in range(500):
        await sink.send(Outgoing(f"G{n}", "push", "m", 1, "c", "p", "en", {}))
    print("acknowledged", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_acknowledged_lines_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "sink.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, env=env
    ) as writer:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"acknowledged\n"
        writer.send_signal(signal.SIGKILL)
        writer.wait()

    assert [r["guid"] for r in read_sink(path)] == [f"G{n}" for n in range(500)]


def test_reopening_appends(tmp_path: Path) -> None:
    path = tmp_path / "sink.jsonl"
    for n in (1, 2):
        sink = SinkProvider(path)
        asyncio.run(sink.send(outgoing(n)))
        asyncio.run(sink.aclose())
    assert [r["guid"] for r in read_sink(path)] == ["G00000001", "G00000002"]


def test_send_after_aclose_is_an_error(tmp_path: Path) -> None:
    sink = SinkProvider(tmp_path / "sink.jsonl")
    asyncio.run(sink.aclose())
    asyncio.run(sink.aclose())  # idempotent
    with pytest.raises(RuntimeError):
        asyncio.run(sink.send(outgoing(1)))


def test_is_a_provider(tmp_path: Path) -> None:
    provider: Provider = SinkProvider(tmp_path / "sink.jsonl", "named")
    assert provider.name == "named"
