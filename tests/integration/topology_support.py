"""Clarion as several real processes on one database, for the one-decider-per-profile
tests: ``clarion serve`` (with or without its own workers) plus ``clarion worker``
processes, a capped catalog, and checks over what was decided.

The catalog makes every rule that reads a profile's history bind quickly: two
push messages and one email message, each triggered by an event type of its own,
each with a per-message cap and a dedup key, a push channel cap and a global
cap. Ten events per profile ask for far more than the caps allow, so two
workers deciding one profile's events at once (against the same stale history)
exceed a cap.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from clarion.core.model import COUNTED
from clarion.store.schema import DONE, events, messages, partition_leases
from tests.integration.crash_support import clarion_executable, free_port

API_KEY = "topology-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
#: Caps of the catalog below (per profile and day).
MESSAGE_CAP = 2
PUSH_CAP = 3
GLOBAL_CAP = 4
TOPICS = 5  # each profile's events name one of five topics: dedup keys repeat

_MESSAGE = """\
name: {name}
id: {id}
category: engagement
trigger:
  event: {name}
channels:
  - channel: {channel}
    content:
{content}
caps: [{{limit: {cap}, window: 1d}}]
dedup: {{key: topic, window: 1d}}
"""
_PUSH = "      title: nudge.title\n      body: nudge.body"
_EMAIL = "      subject: nudge.title\n      body: nudge.body"


def write_catalog(root: Path) -> Path:
    """A catalog whose caps and dedup bind after a few events of one profile."""
    (root / "messages").mkdir(parents=True)
    (root / "strings").mkdir()
    (root / "clarion.yaml").write_text(
        "default_locale: en\n"
        "caps:\n"
        f"  global: [{{limit: {GLOBAL_CAP}, window: 1d}}]\n"
        f"  channels: {{push: [{{limit: {PUSH_CAP}, window: 1d}}]}}\n"
    )
    for n, (name, channel, content) in enumerate(
        (("nudge_a", "push", _PUSH), ("nudge_b", "push", _PUSH), ("nudge_c", "email", _EMAIL))
    ):
        text = _MESSAGE.format(
            name=name, id=4000 + n, channel=channel, content=content, cap=MESSAGE_CAP
        )
        (root / "messages" / f"{name}.yaml").write_text(text)
    (root / "strings" / "en.yaml").write_text(
        "nudge:\n  title: About {{ event.topic }}\n  body: Something new on {{ event.topic }}.\n"
    )
    return root


@dataclass(frozen=True)
class Deployment:
    """Where the processes keep their state, and how they are configured."""

    database_url: str
    workdir: Path
    #: Short leases: a killed worker's partitions and events move on quickly.
    lease_seconds: float = 2.0
    #: Small claims, so that several workers hold events of one profile at once
    #: unless something stops them.
    orchestrator_batch: int = 4

    def write(self) -> Path:
        catalog = write_catalog(self.workdir / "catalog")
        settings = {
            "database_url": self.database_url,
            "catalog": str(catalog),
            "api_keys": API_KEY,
            "event_lease_seconds": self.lease_seconds,
            "message_lease_seconds": self.lease_seconds,
            "partition_lease_seconds": self.lease_seconds,
            "orchestrator_batch": self.orchestrator_batch,
            "poll_interval_seconds": 0.02,
            "log_level": "INFO",
        }
        lines = [f"{key} = {_toml(value)}" for key, value in settings.items()]
        lines += ["", "[providers.sink]", 'type = "sink"', f"path = {_toml(str(self.sink))}"]
        path = self.workdir / "clarion.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    @property
    def sink(self) -> Path:
        return self.workdir / "sink.jsonl"


def _toml(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


class Processes:
    """The deployment's processes; leaving the block kills any still running."""

    def __init__(self, deployment: Deployment) -> None:
        deployment.workdir.mkdir(parents=True, exist_ok=True)
        self._config = deployment.write()
        self._workdir = deployment.workdir
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.base_url = ""

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        for name in list(self.running):
            self.kill(name)

    def _start(self, name: str, args: Sequence[str]) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLARION_")}
        env["CLARION_CONFIG"] = str(self._config)
        with (self._workdir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [str(clarion_executable()), *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.running[name] = process
        return process

    def serve(self, *flags: str) -> None:
        """``clarion serve FLAGS`` (it migrates the database), once ``/readyz`` answers."""
        port = free_port()
        process = self._start(
            "serve", ["serve", "--host", "127.0.0.1", "--port", str(port), *flags]
        )
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"clarion serve exited:\n{self.log('serve')}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"clarion serve not ready:\n{self.log('serve')}")

    def worker(self, name: str) -> int:
        """Start ``clarion worker``; its pid."""
        return self._start(name, ["worker"]).pid

    def kill(self, name: str) -> None:
        """SIGKILL: none of the process's own shutdown code runs."""
        process = self.running.pop(name)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def log(self, name: str) -> str:
        path = self._workdir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def put_profiles(base_url: str, count: int) -> list[str]:
    ids = [f"tp{i}" for i in range(count)]
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30.0) as http:
        for pid in ids:
            body = {"locale": "en", "timezone": "UTC", "email": f"{pid}@example.com"}
            assert http.put(f"/v1/profiles/{pid}", json=body).status_code == 200
            device = {"platform": "ios", "app_version": "16.2.0", "push_token": f"tok-{pid}"}
            answer = http.put(f"/v1/profiles/{pid}/devices/phone", json=device)
            assert answer.status_code == 200
    return ids


#: Event k of a profile triggers message k % 3 (one message per event: decide()
#: checks the caps of one event's messages against the same history).
_TYPES = ("nudge_a", "nudge_b", "nudge_c")


def event_batches(
    profiles: Sequence[str], per_profile: int, size: int
) -> list[list[dict[str, object]]]:
    """Each profile's ``per_profile`` events as one burst, profile after profile, in
    batches of ``size``: workers claiming a few events each, side by side, take
    events of the same profile."""
    flat: list[dict[str, object]] = [
        {
            "id": f"ev-{pid}-{k}",
            "type": _TYPES[k % len(_TYPES)],
            "profile_id": pid,
            "payload": {"topic": f"t{k % TOPICS}"},
        }
        for pid in profiles
        for k in range(per_profile)
    ]
    return [flat[i : i + size] for i in range(0, len(flat), size)]


def post_batches(
    base_url: str, batches: Sequence[list[dict[str, object]]], clients: int = 4
) -> None:
    """POST the batches from ``clients`` connections at once; every one must be accepted."""

    def post(batch: list[dict[str, object]]) -> None:
        with httpx.Client(base_url=base_url, headers=AUTH, timeout=60.0) as http:
            answer = http.post("/v1/events:batch", json={"events": batch})
            assert answer.status_code == 202, answer.text

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, batches))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def events_done(database_url: str, expected: int) -> bool:
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            done = conn.execute(
                sa.select(sa.func.count()).select_from(events).where(events.c.state == DONE)
            ).scalar_one()
    finally:
        engine.dispose()
    return int(done) == expected


def cap_breaches(database_url: str) -> list[str]:
    """Every cap exceeded and dedup key sent twice, per profile (empty when none)."""
    counted = sorted(s.value for s in COUNTED)
    m = messages.c
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(m.profile_id, m.message, m.channel, m.dedup_key).where(
                    m.status.in_(counted)
                )
            ).all()
    finally:
        engine.dispose()
    per_message = Counter((r.profile_id, r.message) for r in rows)
    per_push = Counter(r.profile_id for r in rows if r.channel == "push")
    per_profile = Counter(r.profile_id for r in rows)
    per_key = Counter((r.profile_id, r.message, r.dedup_key) for r in rows)
    breaches = [
        f"{k}: {n} > {MESSAGE_CAP} (message cap)" for k, n in per_message.items() if n > MESSAGE_CAP
    ]
    breaches += [f"{k}: {n} > {PUSH_CAP} (push cap)" for k, n in per_push.items() if n > PUSH_CAP]
    breaches += [
        f"{k}: {n} > {GLOBAL_CAP} (global cap)" for k, n in per_profile.items() if n > GLOBAL_CAP
    ]
    breaches += [f"{k}: sent {n} times (dedup)" for k, n in per_key.items() if n > 1]
    return sorted(breaches)


def counted_per_profile(database_url: str) -> Counter[str]:
    counted = sorted(s.value for s in COUNTED)
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(messages.c.profile_id).where(messages.c.status.in_(counted))
            ).scalars()
            return Counter(rows)
    finally:
        engine.dispose()


def partitions_by_pid(database_url: str) -> Counter[int]:
    """How many partitions each process holds (lease owners name their pid)."""
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            owners = conn.execute(
                sa.select(partition_leases.c.owner).where(partition_leases.c.owner.is_not(None))
            ).scalars()
            return Counter(int(owner.split(":")[1]) for owner in owners)
    finally:
        engine.dispose()
