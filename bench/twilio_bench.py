"""SMS through Twilio's provider, with the whole pipeline in front: messages per second.

``clarion serve`` (API and workers in one process, SQLite) gets ``otp.requested``
events for random profiles of a 20,000-profile population at a fixed open-loop
rate; each event makes one transactional SMS, routed to the ``twilio_sms``
provider, which POSTs it to the fault-injecting Twilio fake of the tests
(``tests/integration/twilio_fake.py``, a threaded HTTP server in this process).
``--faults F`` answers that fraction of requests with 503, so they are retried
with backoff. Events vary in amount and currency (``bench.measure``), and no
payload repeats within a run, so an SMS is identified by its (To, Body): only
distinct ones count as delivered, a repeat (a retry after a lost answer) is a
duplicate. Only ``202`` answers are accepted events. Figures: distinct SMS per
second arriving at the fake over the steady state (after the first seconds),
every accepted event's SMS accounted for after the drain, the requests the fake
answered with a fault, Clarion's CPU per SMS and cores used, and the fake's own
ceiling, measured first in the same run by the plain load generator posting the
same form straight to it (closed loop, 32 connections), with the ratio to it.

    python bench/twilio_bench.py [--rate 300] [--seconds 10] [--faults 0.05]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.integration.twilio_fake import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeReply,
    FakeRequest,
    TwilioFake,
    created,
    twilio_fake,
)

from bench.measure import CpuMeter, Deliveries, Floor, Intake, report, varied_events, write_bodies
from bench.population import populate
from bench.support import CATALOG, clarion_env, free_port, loadgen, serve
from clarion.store import migrate

PROFILES = 20_000
WARMUP_S = 2.0
DRAIN_S = 20.0
FLOOR_S = 3.0  # seconds of the fake alone under the plain load generator
SMS_MESSAGE = """\
name: otp_sms
id: 9001
category: account
trigger: {event: otp.requested}
channels:
  - channel: sms
    content: {body: payment_failed.sms.body}
"""


def _catalog(tmp: Path) -> Path:
    copy = tmp / "catalog"
    shutil.copytree(CATALOG, copy)
    (copy / "messages" / "otp_sms.yaml").write_text(SMS_MESSAGE)
    return copy


def _env(url: str, tmp: Path, fake: TwilioFake) -> dict[str, str]:
    providers = {
        "sink": {"type": "sink", "path": str(tmp / "sink.jsonl")},
        "twilio": {
            "type": "twilio_sms",
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "default_sender": "Clarion",
            "senders": {"US": "+15005550006", "BR": "+5511400000000"},
            "base_url": fake.base_url,
            "public_url": "https://clarion.example.com",
        },
    }
    return clarion_env(
        url,
        tmp / "sink.jsonl",
        CLARION_CATALOG=str(_catalog(tmp)),
        CLARION_PROVIDERS=json.dumps(providers),
        CLARION_ROUTES=json.dumps({"sms": "twilio"}),
        CLARION_RETRY_BASE_SECONDS="0.2",
        CLARION_RETRY_CAP_SECONDS="2",
    )


def _wait_for(accepted: list[tuple[str, float]], count: int, timeout: float) -> float | None:
    """Seconds until the fake has accepted ``count`` SMS, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if len({key for key, _ in accepted}) >= count:
            return round(time.monotonic() - start, 2)
        time.sleep(0.2)
    return None


def _fake_ceiling(fake: TwilioFake) -> Floor:
    """The fake's own rate, alone: the plain load generator posting one SMS form."""
    form = "To=%2B15550000001&From=%2B15005550006&Body=ceiling"
    url = f"{fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    auth = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    summary = loadgen(
        url,
        form,
        *("--header", f"Authorization: Basic {auth}", "--expect", "201"),
        *("--duration", str(FLOOR_S), "--connections", "32"),
        api_key=False,
    )
    rate = float(summary["accepted_per_s"])  # type: ignore[arg-type]
    return Floor("the Twilio fake alone, plain load generator, 32 connections", rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=300.0, help="events (= SMS) per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--faults", type=float, default=0.0, help="fraction answered 503")
    args = parser.parse_args()
    faults = [0]
    accepted_at: list[tuple[str, float]] = []  # each SMS the fake accepted: (To + Body, when)
    rng = random.Random(7)

    def script(request: FakeRequest) -> FakeReply:
        if rng.random() < args.faults:
            faults[0] += 1
            return FakeReply(503, {"code": 20500, "message": "Internal Server Error"})
        form = request.form
        accepted_at.append((f"{form.get('To')}\n{form.get('Body')}", time.time()))
        return created(request)

    with tempfile.TemporaryDirectory() as tmpdir, twilio_fake(script) as fake:
        tmp = Path(tmpdir)
        ceiling = _fake_ceiling(fake)
        del accepted_at[:]
        url = f"sqlite:///{tmp / 'bench.db'}"
        migrate(url)
        populate(url, PROFILES)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with serve(_env(url, tmp, fake), port, tmp / "clarion.log") as server:
            warm = write_bodies(tmp / "warm.txt", varied_events("otp.requested", "warm", 300, 2))
            loadgen(
                f"{base}/v1/events",
                "",
                *("--body-file", str(warm)),
                *("--total", "300", "--rate", "300", "--connections", "8"),
                *("--profiles", str(PROFILES)),
            )
            if _wait_for(accepted_at, 300, DRAIN_S) is None:
                log = (tmp / "clarion.log").read_text()[-3000:]
                raise SystemExit(
                    f"warm-up SMS did not arrive ({len(fake.requests)} requests)\n{log}"
                )
            before = len(accepted_at)
            # No payload repeats in the run: (To, Body) tells the SMS apart.
            lines = varied_events("otp.requested", "run", int(args.rate * args.seconds * 1.2) + 100)
            bodies = write_bodies(tmp / "bodies.txt", lines)
            cpu = CpuMeter([server.proc.pid]).start()
            start = time.time()
            sent = loadgen(
                f"{base}/v1/events",
                "",
                *("--body-file", str(bodies)),
                *("--rate", str(args.rate), "--duration", str(args.seconds)),
                *("--connections", "32", "--profiles", str(PROFILES)),
            )
            stopped = time.time()
            intake = Intake.of(sent)
            drained_in = _wait_for(accepted_at, before + intake.accepted, DRAIN_S)
            usage = cpu.stop()
    run = Deliveries().extend(accepted_at[before:])
    steady_s = max(stopped - start - WARMUP_S, 1e-9)
    sms_per_s = round(run.within(start + WARMUP_S, stopped) / steady_s, 1)
    print(
        json.dumps(
            {
                "bench": "twilio_sms_sqlite",
                "offered_sms_per_s": args.rate,
                "seconds": args.seconds,
                "intake_latency_ms": sent["latency_ms"],
                "sms_per_s_steady": sms_per_s,
                "drained_in_s_after_stop": drained_in,
                "injected_503": faults[0],
                "fault_rate": args.faults,
                # Duplicates: a retry after a lost answer (no idempotency key at Twilio).
                **report(
                    intake=intake,
                    delivered=len(run),
                    expected=intake.accepted,
                    duplicates=run.duplicates,
                    cpu=usage,
                    rate_ok=sms_per_s >= 0.97 * args.rate,
                    messages_per_s=sms_per_s,
                    floor=ceiling,
                ),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
