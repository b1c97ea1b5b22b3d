"""A plain SMTP load generator: the ceiling of an SMTP server measured alone.

``--connections`` threads each keep one ``smtplib`` session and send the same
small message over and over for ``--duration`` seconds (no rendering, no
tracking, no pool: the least a client can do per email). A message the server
answers with 250 is accepted; a refused one or a broken session is an error.
Prints one JSON object, as ``bench.loadgen`` does.

    python -m bench.smtpload --port 2525 [--duration 3] [--connections 8]
"""

from __future__ import annotations

import argparse
import json
import smtplib
import sys
import threading
import time
from collections.abc import Sequence

MESSAGE = (
    "From: load@clarion.test\r\nTo: p@example.com\r\nSubject: ceiling\r\n"
    "Message-ID: <ceiling@clarion.test>\r\n\r\nThe least an email can be.\r\n"
)


def _session(
    host: str, port: int, deadline: float, counts: list[int], lock: threading.Lock
) -> None:
    accepted = errors = 0
    try:
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            while time.perf_counter() < deadline:
                try:
                    smtp.sendmail("load@clarion.test", ["p@example.com"], MESSAGE)
                    accepted += 1
                except smtplib.SMTPException:
                    errors += 1
    except (OSError, smtplib.SMTPException):
        errors += 1
    with lock:
        counts[0] += accepted
        counts[1] += errors


def run(host: str, port: int, duration: float, connections: int) -> dict[str, object]:
    counts, lock = [0, 0], threading.Lock()
    start = time.perf_counter()
    threads = [
        threading.Thread(target=_session, args=(host, port, start + duration, counts, lock))
        for _ in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return {
        "accepted": counts[0],
        "errors": counts[1],
        "bad_status": {},
        "elapsed_s": round(elapsed, 3),
        "accepted_per_s": round(counts[0] / elapsed, 1),
        "connections": connections,
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.smtpload", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--connections", type=int, default=8)
    a = p.parse_args(argv)
    sys.stdout.write(json.dumps(run(a.host, a.port, a.duration, a.connections)) + "\n")


if __name__ == "__main__":
    main()
