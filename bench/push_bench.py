"""Push throughput: messages per second through the push provider to its local peer,
with the whole pipeline in front (HTTP intake, orchestration, dispatch).

For each service, a fresh SQLite database holds ``--profiles`` profiles with one
device each (an iPhone for APNs, a browser subscribed at web-push-testing for
Web Push); ``clarion serve`` runs with a one-message catalog (``bench.push`` ->
one transactional push) and the push provider pointed at the peer:

* APNs: the HTTP/2 peer of the tests (``tests/peers/apns.py``) in its own
  process, checking every ES256 provider token, over h2c;
* Web Push: ``web-push-testing`` (npm), which checks each VAPID signature and
  decrypts each message.

After a warm-up, the load generator sends ``--events`` events at ``--rate``
events/s (more than the peers take, so the figure is the pipeline's capacity);
the run ends when every push message has left ``scheduled``/``sending``. The
figure is messages sent per second from the first event to the last message
acknowledged by the peer; every message must have been acknowledged (``sent``).
Counting is ``bench.measure``'s: only ``202`` answers are accepted events; the
APNs peer logs each notification's ``apns-id`` (derived from the message guid),
and only distinct ones count as delivered (Web Push: messages ``sent`` in the
database, one row per guid). Each run reports Clarion's CPU per message, cores
used, and ``target_met`` (2,000 messages/s or the peer's ceiling if lower, no
error, no refusal, all delivered). The APNs peer's ceiling is measured first, in
the same run, with the plain HTTP/2 load generator ``bench.h2load`` (the ratio
to it is reported); Web Push has no such floor yet.

    python bench/push_bench.py [--events 3000] [--web-events 1000] [--rate 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.peers.keys import ec_key, vapid_key
from tests.peers.webpush import WebPushTesting, missing, token_of

from bench.measure import CpuMeter, Deliveries, Floor, Intake, report
from bench.support import ROOT, Process, clarion_env, free_port, loadgen, serve
from clarion.channels.apns import ApnsAuth
from clarion.core.model import Device, Profile
from clarion.store import migrate
from clarion.store.schema import devices, messages, profiles
from clarion.store.sql import SqlStore
from clarion.store.sql.bulk import append
from clarion.store.sql.convert import device_row, profile_row

TEAM, KEY_ID, TOPIC = "TEAM123456", "KEY1234567", "com.example.bench"
EVENT = '{"id":"$TAG-$SEQ","type":"bench.push","profile_id":"p$PROFILE","payload":{"n":$SEQ}}'
TARGET_MESSAGES_PER_S = 2_000
CEILING_S = 3.0  # seconds of the APNs peer alone under bench.h2load
CATALOG = {
    "clarion.yaml": "default_locale: en\n",
    "messages/push_bench.yaml": """\
name: push_bench
id: 9001
category: account # transactional: no caps, no quiet hours
trigger:
  event: bench.push
channels:
  - channel: push
    content: {title: push_bench.push.title, body: push_bench.push.body}
    options: {deep_link: /orders}
""",
    "strings/en.yaml": """\
push_bench:
  push:
    title: "Order {{ event.n }} has shipped"
    body: Your package is on its way. **Track it** in the app.
""",
}


def _catalog(tmp: Path) -> Path:
    root = tmp / "catalog"
    for name, text in CATALOG.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _populate(url: str, count: int, platform: str, token: Callable[[int], str]) -> None:
    migrate(url)
    store = SqlStore(url)
    now = time.time()
    batch = [
        Profile(id=f"p{i}", devices=(Device(f"d{i}", platform, "16.2.0", None, token(i)),))
        for i in range(count)
    ]
    try:
        with store.engine.begin() as conn:
            append(conn, profiles, [profile_row(p, now) for p in batch])
            append(conn, devices, [device_row(p.id, p.devices[0], now) for p in batch])
    finally:
        store.close()


def _settled(url: str, tag: str) -> tuple[int, int]:
    """(push messages of ``tag`` no longer pending, of which sent)."""
    engine = sa.create_engine(url)
    c = messages.c
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.status, sa.func.count())
                .where(c.event_id.like(f"{tag}-%"), c.status.notin_(("scheduled", "sending")))
                .group_by(c.status)
            ).all()
    finally:
        engine.dispose()
    counts = {status: n for status, n in rows}
    return sum(counts.values()), counts.get("sent", 0)


def _wait(url: str, tag: str, expected: int, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, _ = _settled(url, tag)
        if done >= expected:
            return time.monotonic()
        time.sleep(0.05)
    return None


def _peer_ids(path: Path | None, offset: int) -> tuple[Deliveries, int]:
    """Distinct notifications the APNs peer accepted past byte ``offset`` of its ids
    file, and the file's size (the next offset)."""
    seen = Deliveries()
    if path is None or not path.exists():
        return seen, 0
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    for line in complete[offset:].splitlines():
        push_id, at = line.split()
        seen.add(push_id.decode(), float(at))
    return seen, len(complete)


def _measure(
    tmp: Path,
    name: str,
    push: dict[str, object],
    events: int,
    rate: int,
    profiles_n: int,
    peer_ids: Path | None = None,
    floor: Floor | None = None,
) -> dict[str, object]:
    url = f"sqlite:///{tmp / f'{name}.db'}"
    env = clarion_env(
        url,
        tmp / f"{name}-sink.jsonl",
        CLARION_CATALOG=str(_catalog(tmp)),
        CLARION_PROVIDERS=json.dumps(
            {"sink": {"type": "sink", "path": str(tmp / "sink.jsonl")}, "push": push}
        ),
        CLARION_ROUTES=json.dumps({"push": "push"}),
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve(env, port, tmp / f"{name}-clarion.log") as clarion:
        offset = 0
        for tag, total in (("warm", 100), ("run", events)):
            _, offset = _peer_ids(peer_ids, 0)
            started, cpu = time.monotonic(), CpuMeter([clarion.proc.pid]).start()
            sent_summary = loadgen(
                f"{base}/v1/events",
                EVENT.replace("$TAG", f"{name}-{tag}"),
                "--total", str(total),
                "--rate", str(rate),
                "--connections", "32",
                "--profiles", str(profiles_n),
            )  # fmt: skip
            intake = Intake.of(sent_summary)
            finished = _wait(url, f"{name}-{tag}", intake.accepted, timeout=120)
            usage = cpu.stop()
    done, sent = _settled(url, f"{name}-run")
    elapsed = (finished or time.monotonic()) - started
    if peer_ids is not None:
        at_peer, _ = _peer_ids(peer_ids, offset)
        delivered, duplicates, counted = (
            len(at_peer),
            at_peer.duplicates,
            "distinct apns-id at peer",
        )
    else:
        delivered, duplicates, counted = sent, 0, "messages sent (database, one row per guid)"
    rate_s = delivered / elapsed
    return {
        "service": name,
        "messages_sent": sent,
        "messages_failed": done - sent,
        "all_settled": finished is not None,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(rate_s, 1),
        "delivered_counted_as": counted,
        "intake_latency_ms": sent_summary["latency_ms"],
        # CPU of the Clarion process per message (intake, decision, dispatch, the
        # service client): the figure that does not depend on what else runs here.
        **report(
            intake=intake,
            delivered=delivered,
            expected=intake.accepted,
            duplicates=duplicates,
            cpu=usage,
            # The target is 2,000/s, or the peer's own ceiling where that is lower.
            rate_ok=rate_s >= min(TARGET_MESSAGES_PER_S, floor.messages_per_s if floor else 1e12),
            messages_per_s=rate_s,
            floor=floor,
        ),
    }


def apns(tmp: Path, events: int, rate: int, profiles_n: int) -> dict[str, object]:
    key = ec_key()
    (tmp / "apns.pub").write_text(key.public_pem)
    port = free_port()
    args = [sys.executable, "-m", "tests.peers.apns", "--port", str(port)]
    args += ["--public-key", str(tmp / "apns.pub"), "--team", TEAM, "--key-id", KEY_ID]
    args += ["--topic", TOPIC, "--ids", str(tmp / "apns-ids.txt")]
    peer = Process(args, {**os.environ, "PYTHONPATH": str(ROOT)}, tmp / "apns-peer.log")
    try:
        deadline = time.monotonic() + 20
        while "listening" not in peer.log.read_text():
            if time.monotonic() > deadline or peer.proc.poll() is not None:
                raise RuntimeError(f"APNs peer did not start: {peer.log.read_text()[-2000:]}")
            time.sleep(0.05)
        _populate(f"sqlite:///{tmp / 'apns.db'}", profiles_n, "ios", lambda i: f"{i:064x}")
        config = {
            "type": "push",
            "apns": {
                "team_id": TEAM,
                "key_id": KEY_ID,
                "private_key": key.private_pem,
                "topic": TOPIC,
                "base_url": f"http://127.0.0.1:{port}",
            },
        }
        ceiling = _apns_ceiling(port, key.private_pem)
        ids = tmp / "apns-ids.txt"
        return _measure(tmp, "apns", config, events, rate, profiles_n, ids, ceiling)
    finally:
        peer.stop()


def _apns_ceiling(port: int, private_pem: str) -> Floor:
    """The APNs peer alone: ``bench.h2load`` posting one valid notification (a real
    ES256 provider token, which the peer verifies) on 2 connections x 50 streams."""
    token = ApnsAuth(TEAM, KEY_ID, private_pem).token()
    args = [sys.executable, "-m", "bench.h2load", f"http://127.0.0.1:{port}/3/device/{0:064x}"]
    for header in (f"authorization: bearer {token}", f"apns-topic: {TOPIC}"):
        args += ["--header", header]
    args += ["--header", "apns-push-type: alert", "--duration", str(CEILING_S)]
    args += ["--body", '{"aps":{"alert":{"title":"Order 1 has shipped","body":"On its way."}}}']
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    summary = json.loads(out.stdout)
    if summary["errors"] or summary["bad_status"]:
        raise RuntimeError(f"the APNs peer refused the plain load: {summary}")
    what = "the APNs peer alone, bench.h2load, 2 connections x 50 streams"
    return Floor(what, float(summary["accepted_per_s"]))


def webpush(tmp: Path, events: int, rate: int, profiles_n: int) -> dict[str, object]:
    why = missing()
    if why is not None:
        return {"service": "webpush", "skipped": why}
    vapid = vapid_key()
    peer = WebPushTesting(tmp / "web-push-testing.log")
    try:
        subscriptions = [peer.subscribe(vapid.public_raw) for _ in range(50)]
        tokens = [token_of(s) for s in subscriptions]
        _populate(
            f"sqlite:///{tmp / 'webpush.db'}", profiles_n, "web", lambda i: tokens[i % len(tokens)]
        )
        config = {
            "type": "push",
            "webpush": {
                "vapid_private_key": vapid.private_raw,
                "vapid_subject": "mailto:bench@example.com",
            },
        }
        result = _measure(tmp, "webpush", config, events, rate, profiles_n)
        received = sum(len(peer.messages(str(s["clientHash"]))) for s in subscriptions)
        result["decrypted_by_peer"] = received  # warm-up included
        return result
    finally:
        peer.stop()


def main(events: int, web_events: int, rate: int, profiles_n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="clarion-push-") as tmp:
        runs = [
            apns(Path(tmp), events, rate, profiles_n),
            webpush(Path(tmp), web_events, rate, profiles_n),
        ]
    return {
        "bench": "push",
        "mode": "clarion serve (API + workers, one process), SQLite; peers in their own processes",
        "profiles": profiles_n,
        "offered_events_per_s": rate,
        "target_messages_per_s": TARGET_MESSAGES_PER_S,
        "load_average_1m_at_end": round(os.getloadavg()[0], 1),
        "runs": runs,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="APNs run: events sent")
    parser.add_argument("--web-events", type=int, default=1000, help="Web Push run: events")
    parser.add_argument("--rate", type=int, default=2000, help="events/s offered")
    parser.add_argument("--profiles", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(main(args.events, args.web_events, args.rate, args.profiles)))
