"""SMS through Twilio's provider, with the whole pipeline in front: messages per second.

``clarion serve`` (API and workers in one process, SQLite) gets ``otp.requested``
events for random profiles of a 20,000-profile population at a fixed open-loop
rate; each event makes one transactional SMS, routed to the ``twilio_sms``
provider, which POSTs it to the fault-injecting Twilio fake of the tests
(``tests/integration/twilio_fake.py``, a threaded HTTP server in this process).
``--faults F`` answers that fraction of requests with 503, so they are retried
with backoff. Figures: SMS per second arriving at the fake over the steady state
(after the first seconds), every accepted event's SMS accounted for after the
drain, and the requests the fake answered with a fault.

    python bench/twilio_bench.py [--rate 300] [--seconds 10] [--faults 0.05]
"""

from __future__ import annotations

import argparse
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

from bench.population import populate
from bench.support import CATALOG, clarion_env, free_port, loadgen, serve
from clarion.store import migrate

PROFILES = 20_000
WARMUP_S = 2.0
DRAIN_S = 20.0
EVENT = (
    '{"id":"$TAG-$SEQ","type":"otp.requested","profile_id":"p$PROFILE",'
    '"payload":{"amount":15.49,"currency":"USD","show_title":"Dark"}}'
)
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


def _wait_for(accepted: list[float], count: int, timeout: float) -> float | None:
    """Seconds until the fake has accepted ``count`` SMS, or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if len(accepted) >= count:
            return round(time.monotonic() - start, 2)
        time.sleep(0.2)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=300.0, help="events (= SMS) per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--faults", type=float, default=0.0, help="fraction answered 503")
    args = parser.parse_args()
    faults = [0]
    accepted_at: list[float] = []  # when the fake accepted each SMS
    rng = random.Random(7)

    def script(request: FakeRequest) -> FakeReply:
        if rng.random() < args.faults:
            faults[0] += 1
            return FakeReply(503, {"code": 20500, "message": "Internal Server Error"})
        accepted_at.append(time.time())
        return created(request)

    with tempfile.TemporaryDirectory() as tmpdir, twilio_fake(script) as fake:
        tmp = Path(tmpdir)
        url = f"sqlite:///{tmp / 'bench.db'}"
        migrate(url)
        populate(url, PROFILES)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with serve(_env(url, tmp, fake), port, tmp / "clarion.log"):
            loadgen(
                f"{base}/v1/events",
                EVENT.replace("$TAG", "warm"),
                *("--total", "300", "--rate", "300", "--connections", "8"),
                *("--profiles", str(PROFILES)),
            )
            if _wait_for(accepted_at, 300, DRAIN_S) is None:
                log = (tmp / "clarion.log").read_text()[-3000:]
                raise SystemExit(
                    f"warm-up SMS did not arrive ({len(fake.requests)} requests)\n{log}"
                )
            before = len(accepted_at)
            start = time.time()
            sent = loadgen(
                f"{base}/v1/events",
                EVENT.replace("$TAG", "run"),
                *("--rate", str(args.rate), "--duration", str(args.seconds)),
                *("--connections", "32", "--profiles", str(PROFILES)),
            )
            stopped = time.time()
            accepted = int(sent["events"])  # type: ignore[call-overload]
            drained_in = _wait_for(accepted_at, before + accepted, DRAIN_S)
    steady = [t for t in accepted_at if start + WARMUP_S <= t <= stopped]
    delivered = len(accepted_at) - before
    print(
        json.dumps(
            {
                "bench": "twilio_sms_sqlite",
                "offered_sms_per_s": args.rate,
                "seconds": args.seconds,
                "accepted_events": accepted,
                "intake_latency_ms": sent["latency_ms"],
                "sms_per_s_steady": round(len(steady) / max(stopped - start - WARMUP_S, 1e-9), 1),
                "sms_at_fake": delivered,
                "all_sms_arrived": delivered >= accepted,
                # More SMS than events: a retry after a lost answer (no idempotency key).
                "extra_sms": max(delivered - accepted, 0),
                "drained_in_s_after_stop": drained_in,
                "injected_503": faults[0],
                "fault_rate": args.faults,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
