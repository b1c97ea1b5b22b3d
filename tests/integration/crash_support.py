"""Crash-safety trials: run ``clarion serve`` as a real process, stream events at it
from several connections, SIGKILL it at a random moment, restart it on the same
database and sink, and check what survived.

The promise under test (DESIGN §2, §4): a 202 means the event is committed, so
every acknowledged event yields its messages exactly once in the database, and
each message reaches the provider at least once. The sink takes no idempotency
key, so a kill between its write and the database update may deliver a message
twice; such a duplicate is allowed only for a message that was in ``sending``
when a process was killed, once per such kill.

Shared by ``tests/integration/test_crash.py`` (a few kills per database) and
``bench/crash_bench.py`` (DESIGN §8: 0 accepted events lost over 100 kills).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from clarion.channels.sink import read_sink
from clarion.core import reasons
from clarion.core.model import Status
from clarion.store.schema import DONE, events, lifecycle, messages

EXAMPLE_CATALOG = Path(__file__).parents[2] / "catalog"
API_KEY = "crash-test-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
#: The example catalog's payment_failed message, for a profile with an email, a
#: phone and a device with a push token: one message on each of these channels.
PAYMENT = {"amount": 15.49, "currency": "USD", "show_title": "Dark"}
EXPECTED_CHANNELS = frozenset({"inapp", "push", "email", "sms"})
#: Statuses a message leaves on its own once the dispatcher has run.
_PENDING_STATUSES = (Status.SCHEDULED.value, Status.SENDING.value)
#: How many problems of each kind a report spells out; the counts say the rest.
_SAMPLES = 5


def clarion_executable() -> Path:
    """The ``clarion`` console script of the running interpreter's environment.

    It is a Python script with a shebang, so the process it starts is the server
    itself (no shell in between) and a SIGKILL to its pid kills the server.
    """
    beside = Path(sys.executable).with_name("clarion")
    if beside.exists():
        return beside
    found = shutil.which("clarion")
    if found is None:
        raise RuntimeError("the clarion command is not installed")
    return Path(found)


def free_port() -> int:
    """A TCP port that was free a moment ago (the server retries on a race)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _toml_value(value: object) -> str:
    # JSON strings and numbers are valid TOML basic strings and numbers.
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class ServerConfig:
    """One Clarion deployment that survives its processes: database, sink, settings."""

    database_url: str
    workdir: Path
    #: Short leases so that a restarted server reclaims a killed one's work quickly.
    lease_seconds: float = 2.0
    dispatcher_batch: int = 500
    catalog: Path = EXAMPLE_CATALOG

    @property
    def sink_path(self) -> Path:
        return self.workdir / "sink.jsonl"

    @property
    def config_path(self) -> Path:
        return self.workdir / "clarion.toml"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def write(self) -> Path:
        """Write the TOML file that ``CLARION_CONFIG`` names; returns its path."""
        settings: dict[str, object] = {
            "database_url": self.database_url,
            "catalog": str(self.catalog),
            "api_keys": API_KEY,
            "event_lease_seconds": self.lease_seconds,
            "message_lease_seconds": self.lease_seconds,
            # A restarted server takes over the killed one's partitions of profiles
            # when their lease runs out.
            "partition_lease_seconds": self.lease_seconds,
            "dispatcher_batch": self.dispatcher_batch,
            "poll_interval_seconds": 0.02,
            "log_level": "WARNING",
        }
        lines = [f"{key} = {_toml_value(value)}" for key, value in settings.items()]
        lines += [
            "",
            "[providers.sink]",
            'type = "sink"',
            f"path = {_toml_value(str(self.sink_path))}",
        ]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text("\n".join(lines) + "\n")
        return self.config_path


class ClarionServer:
    """``clarion serve`` in a child process; at most one runs at a time.

    Use it as a context manager: leaving the block kills a server still running,
    whatever happened inside, so no stray server outlives a failed test.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        config.write()

    def __enter__(self) -> ClarionServer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.kill()

    def _environment(self) -> dict[str, str]:
        # CLARION_* variables would win over the config file: drop the caller's.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLARION_")}
        env["CLARION_CONFIG"] = str(self.config.config_path)
        return env

    def start(self, timeout: float = 120.0, attempts: int = 3) -> None:
        """Start a server and wait until it answers ``/readyz``."""
        if self.process is not None:
            raise RuntimeError("a server is already running")
        for attempt in range(attempts):
            port = free_port()
            with self.config.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [
                        str(clarion_executable()),
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                    ],
                    env=self._environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            self.base_url = f"http://127.0.0.1:{port}"
            if self._wait_ready(timeout):
                return
            # It exited: most likely another process took the port in between.
            self.process = None
            if attempt == attempts - 1:
                raise RuntimeError(f"clarion serve did not start:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        """True once ready; False if the process exited; raises on a timeout."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"clarion serve not ready after {timeout}s:\n{self.log_tail()}")

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("no server is running")
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the server and reap it: no shutdown code of its own runs."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server gracefully (SIGTERM), or kill it if it does not stop in time."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        self.kill()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if not self.config.log_path.exists():
            return ""
        text = self.config.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def seed_profiles(base_url: str, count: int) -> list[str]:
    """Create ``count`` profiles that payment.failed reaches on all four channels."""
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=10.0) as http:
        return put_profiles(http, [f"crash-p{i}" for i in range(count)])


def put_profiles(http: httpx.Client, ids: list[str]) -> list[str]:
    """Create profiles with every address and a push device through the API
    (a ``TestClient`` will do), so payment.failed reaches all four channels."""
    for pid in ids:
        profile = {
            "locale": "en",
            "timezone": "UTC",
            "country": "US",
            "email": f"{pid}@example.com",
            "phone": "+15551234567",
        }
        device = {"platform": "ios", "app_version": "16.2.0", "push_token": f"tok-{pid}"}
        for path, body in (
            (f"/v1/profiles/{pid}", profile),
            (f"/v1/profiles/{pid}/devices/phone", device),
        ):
            answer = http.put(path, json=body)
            if answer.status_code != 200:
                raise RuntimeError(f"PUT {path}: {answer.status_code} {answer.text}")
    return ids


@dataclass
class Ledger:
    """What the clients know, across every kill of a run."""

    #: Answered 202: these events must survive.
    acked: set[str] = field(default_factory=set)
    #: Sent but unanswered when the server died: may or may not be stored.
    unknown: set[str] = field(default_factory=set)
    #: Answered with anything but 202 (status by id): not accepted.
    refused: dict[str, int] = field(default_factory=dict)
    #: For each kill, the messages that were in ``sending`` right after it: the
    #: only ones a restart may deliver a second time.
    sending_at_kills: list[set[str]] = field(default_factory=list)
    #: Events stored but not yet processed at the kills: work a restart had to recover.
    events_open_at_kills: int = 0


async def _stream(
    base_url: str,
    ids: Iterator[str],
    profiles: list[str],
    clients: int,
    kill_after: float,
    kill: Callable[[], None],
    ledger: Ledger,
) -> None:
    stopped = asyncio.Event()
    turn = itertools.cycle(profiles)

    async def client() -> None:
        # One client per connection; each sends its next event as soon as the last is answered.
        async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=10.0) as http:
            while not stopped.is_set():
                event_id = next(ids)
                body = {
                    "id": event_id,
                    "type": "payment.failed",
                    "profile_id": next(turn),
                    "payload": PAYMENT,
                }
                try:
                    answer = await http.post("/v1/events", json=body)
                except httpx.TransportError:
                    # The server died with this request in flight (or before it
                    # connected): it may or may not have been committed.
                    ledger.unknown.add(event_id)
                    return
                if answer.status_code == 202:
                    ledger.acked.add(event_id)
                else:
                    ledger.refused[event_id] = answer.status_code

    async def killer() -> None:
        await asyncio.sleep(kill_after)
        stopped.set()
        kill()

    await asyncio.gather(killer(), *(client() for _ in range(clients)))


def stream_and_kill(
    server: ClarionServer,
    ledger: Ledger,
    ids: Iterator[str],
    profiles: list[str],
    kill_after: float,
    clients: int = 8,
) -> None:
    """Stream payment.failed events from ``clients`` connections and SIGKILL the
    server ``kill_after`` seconds in; record every answer in ``ledger``."""
    asyncio.run(_stream(server.base_url, ids, profiles, clients, kill_after, server.kill, ledger))
    sending, open_events = after_kill(server.config.database_url)
    ledger.sending_at_kills.append(sending)
    ledger.events_open_at_kills += open_events


def _engine(database_url: str) -> sa.Engine:
    # A pool would keep connections open across the server's restarts; not worth it.
    return sa.create_engine(database_url, poolclass=sa.NullPool)


def after_kill(database_url: str) -> tuple[set[str], int]:
    """Right after a kill: the messages in ``sending`` (their fate is unknown) and
    how many stored events were not yet processed."""
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            sending = sa.select(messages.c.guid).where(messages.c.status == Status.SENDING.value)
            open_events = (
                sa.select(sa.func.count()).select_from(events).where(events.c.state != DONE)
            )
            return set(conn.execute(sending).scalars()), conn.execute(open_events).scalar_one()
    finally:
        engine.dispose()


def wait_until_settled(server: ClarionServer, timeout: float = 60.0) -> None:
    """Wait until every stored event is processed and every message has left
    scheduled/sending (a killed server's leases expire first)."""
    engine = _engine(server.config.database_url)
    open_events = sa.select(sa.func.count()).select_from(events).where(events.c.state != DONE)
    open_messages = (
        sa.select(sa.func.count())
        .select_from(messages)
        .where(messages.c.status.in_(_PENDING_STATUSES))
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as conn:
                waiting = (
                    conn.execute(open_events).scalar_one(),
                    conn.execute(open_messages).scalar_one(),
                )
            if waiting == (0, 0):
                return
            if not server.alive():
                raise RuntimeError(f"the server died while draining:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"not settled after {timeout}s: {waiting[0]} events, {waiting[1]} messages open"
                )
            time.sleep(0.1)
    finally:
        engine.dispose()


@dataclass
class Verdict:
    """The outcome of a run, checked against the database and the sink."""

    kills: int
    events_acknowledged: int
    #: In flight when the server was killed: allowed either way.
    events_in_flight_at_kill: int
    events_refused: int
    events_stored: int
    #: Acknowledged but not in the database: must be 0.
    events_lost: int
    #: Stored events without exactly one message per expected channel.
    events_with_wrong_messages: int
    messages: int
    #: Extra rows for the same (event, message, step, profile): must be 0.
    messages_duplicated_db: int
    messages_undelivered: int
    messages_missing_from_sink: int
    #: Extra sink lines for a message (at-least-once delivery, no idempotency key).
    provider_duplicate_deliveries: int
    #: Sends the lifecycle log marks as possible duplicates (each repeated
    #: delivery must be one of them).
    possible_duplicates_marked: int
    #: Messages in ``sending`` at the kills: the bound on provider duplicates.
    sending_at_kills: int
    events_open_at_kills: int
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """Every count, for a benchmark's JSON line or an assertion message."""
        return {k: v for k, v in self.__dict__.items() if k != "problems"}


def _note(problems: list[str], what: str, items: list[str] | set[str]) -> None:
    if items:
        sample = sorted(items)[:_SAMPLES]
        problems.append(f"{len(items)} {what}, e.g. {sample}")


@dataclass(frozen=True)
class _Row:
    guid: str
    event_id: str
    key: tuple[str, str, int, str]
    channel: str
    status: str
    attempts: int


def _load(database_url: str) -> tuple[dict[str, str], list[_Row], set[str], Counter[str]]:
    """Events (id to state), messages, the guids ever reclaimed after a lease
    expired, and per guid the sends the lifecycle marks as possible duplicates."""
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            stored = {
                row.id: row.state for row in conn.execute(sa.select(events.c.id, events.c.state))
            }
            m = messages.c
            rows = [
                _Row(
                    r.guid,
                    r.event_id,
                    (r.event_id, r.message, r.step, r.profile_id),
                    r.channel,
                    r.status,
                    r.attempts,
                )
                for r in conn.execute(
                    sa.select(
                        m.guid,
                        m.event_id,
                        m.message,
                        m.step,
                        m.profile_id,
                        m.channel,
                        m.status,
                        m.attempts,
                    )
                )
            ]
            reclaimed = sa.select(lifecycle.c.guid).where(
                lifecycle.c.reason == reasons.LEASE_EXPIRED
            )
            attempts = sa.select(lifecycle.c.guid, lifecycle.c.detail).where(
                lifecycle.c.reason == reasons.ATTEMPT
            )
            marked = Counter(
                guid
                for guid, detail in conn.execute(attempts)
                if isinstance(detail, dict) and detail.get("possible_duplicate")
            )
            return stored, rows, set(conn.execute(reclaimed).scalars()), marked
    finally:
        engine.dispose()


def _check_events(
    ledger: Ledger, stored: dict[str, str], rows: list[_Row], problems: list[str]
) -> tuple[int, int]:
    """Events against the ledger; returns (lost, with wrong messages)."""
    lost = ledger.acked - stored.keys()
    _note(problems, "acknowledged events lost", lost)
    strays = stored.keys() - ledger.acked - ledger.unknown - ledger.refused.keys()
    _note(problems, "stored events that no client sent", strays)
    _note(problems, "events not processed", {e for e, state in stored.items() if state != DONE})
    channels: dict[str, list[str]] = {}
    for row in rows:
        channels.setdefault(row.event_id, []).append(row.channel)
    wrong = {e for e in stored if sorted(channels.get(e, [])) != sorted(EXPECTED_CHANNELS)}
    _note(
        problems,
        f"events without exactly one message on each of {sorted(EXPECTED_CHANNELS)}",
        wrong,
    )
    _note(problems, "messages of unknown events", channels.keys() - stored.keys())
    return len(lost), len(wrong)


def _check_deliveries(
    ledger: Ledger,
    rows: list[_Row],
    reclaimed: set[str],
    marked: Counter[str],
    sink: Counter[str],
    problems: list[str],
) -> tuple[int, int, int, int]:
    """Messages against the sink; returns (duplicated in the DB, undelivered,
    missing from the sink, provider duplicates)."""
    per_key = Counter(row.key for row in rows)
    duplicated_db = sum(n - 1 for n in per_key.values())
    _note(
        problems,
        "(event, message, step, profile) keys with several messages",
        {str(k) for k, n in per_key.items() if n > 1},
    )
    undelivered = {r.guid for r in rows if r.status != Status.DELIVERED.value}
    _note(problems, "messages not delivered", undelivered)
    missing = {r.guid for r in rows if r.guid not in sink}
    _note(problems, "messages missing from the sink", missing)
    _note(
        problems,
        "sink lines for messages not in the database",
        sink.keys() - {r.guid for r in rows},
    )
    duplicates = sum(n - 1 for n in sink.values() if n > 1)
    # A second delivery needs a kill after the sink write and before the commit
    # (the message was in sending at that kill) and a reclaim of its lease; a
    # message sent n times was also claimed at least n times.
    attempts = {r.guid: r.attempts for r in rows}
    exposed = Counter(guid for kill in ledger.sending_at_kills for guid in kill)
    unexplained = {
        guid
        for guid, n in sink.items()
        if n > 1 and (n - 1 > exposed[guid] or guid not in reclaimed or n > attempts.get(guid, 0))
    }
    _note(problems, "messages delivered more often than the kills can explain", unexplained)
    # The sink takes no idempotency key, so each call is recorded before it is
    # made, and a send after a call cut off by a kill is marked (docs/delivery.md).
    unmarked = {guid for guid, n in sink.items() if n - 1 > marked[guid]}
    _note(problems, "repeated deliveries the lifecycle log does not mark", unmarked)
    return duplicated_db, len(undelivered), len(missing), duplicates


def verify(config: ServerConfig, ledger: Ledger) -> Verdict:
    """Check a settled deployment against what its clients were told."""
    stored, rows, reclaimed, marked = _load(config.database_url)
    sink = (
        Counter(str(line["guid"]) for line in read_sink(config.sink_path))
        if config.sink_path.exists()
        else Counter[str]()
    )
    problems: list[str] = []
    _note(
        problems,
        "events refused (answered neither 202 nor cut off by the kill)",
        set(ledger.refused),
    )
    lost, wrong = _check_events(ledger, stored, rows, problems)
    duplicated_db, undelivered, missing, duplicates = _check_deliveries(
        ledger, rows, reclaimed, marked, sink, problems
    )
    return Verdict(
        kills=len(ledger.sending_at_kills),
        events_acknowledged=len(ledger.acked),
        events_in_flight_at_kill=len(ledger.unknown),
        events_refused=len(ledger.refused),
        events_stored=len(stored),
        events_lost=lost,
        events_with_wrong_messages=wrong,
        messages=len(rows),
        messages_duplicated_db=duplicated_db,
        messages_undelivered=undelivered,
        messages_missing_from_sink=missing,
        provider_duplicate_deliveries=duplicates,
        possible_duplicates_marked=sum(marked.values()),
        sending_at_kills=sum(len(kill) for kill in ledger.sending_at_kills),
        events_open_at_kills=ledger.events_open_at_kills,
        problems=problems,
    )


def run_trials(
    config: ServerConfig,
    trials: int,
    rng: random.Random,
    *,
    profiles: int = 20,
    clients: int = 8,
    kill_window: tuple[float, float] = (0.3, 1.5),
    settle_timeout: float = 120.0,
    on_trial: Callable[[int, Ledger], Any] | None = None,
) -> Verdict:
    """``trials`` times: start a server on ``config``'s (empty) database, stream
    events, SIGKILL it at a random moment in ``kill_window``. Then start it once
    more, let it drain, stop it and check everything it was told to keep."""
    ledger = Ledger()
    with ClarionServer(config) as server:
        people: list[str] = []
        for trial in range(trials):
            server.start()
            if not people:
                people = seed_profiles(server.base_url, profiles)
            ids = (f"t{trial}-e{n}" for n in itertools.count())
            stream_and_kill(server, ledger, ids, people, rng.uniform(*kill_window), clients)
            if on_trial is not None:
                on_trial(trial, ledger)
        server.start()
        wait_until_settled(server, settle_timeout)
        server.stop()
    return verify(config, ledger)
