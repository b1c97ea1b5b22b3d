"""Every benchmark, one after the other; each prints one JSON line (``make bench``).

    decide                     pure decisions on one core
    intake_http_sqlite         POST /v1/events against `clarion serve --no-workers`
    e2e_sqlite_embedded        event -> sink, `clarion serve` (API and workers in one process)
    e2e_sqlite_embedded        the same with `--worker-processes 2`
    e2e_postgres               `clarion serve --no-workers` + 2 x `clarion worker`
    inapp_sqlite               GET /v1/inapp/alerts and POST /v1/inapp/feedback, 100k profiles,
                               one API process, then `--api-processes 2`
    inapp_postgres             the same on PostgreSQL, `--api-processes 2`
    push                       event -> APNs peer (HTTP/2) and -> web-push-testing, SQLite
    email_smtp_sqlite_embedded event -> tracked email through the SMTP provider to aiosmtpd
    twilio_sms_sqlite          event -> SMS through the Twilio provider to the Twilio fake
    insights                   GET /v1/insights/delivery queries over 200,000 messages (both stores)

The PostgreSQL run uses ``CLARION_BENCH_PG`` (default: the local server, database
``clarion_bench``, dropped and recreated; the in-app benchmark uses
``clarion_bench_inapp`` beside it) and prints ``{"bench": ..., "skipped": why}``
when the server does not answer. Each benchmark runs for well under a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.support import ROOT, postgres_reachable

PG_URL = os.environ.get(
    "CLARION_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/clarion_bench"
)
E2E = ["--seconds", "12", "--runs", "3"]
INAPP = ["--seconds", "15", "--connections", "32"]
#: Two API processes: one per core of the 2-core machine the targets are set for.
INAPP_2 = [*INAPP, "--api-processes", "2"]


def _run(script: str, *args: str) -> None:
    """Run one benchmark in its own process and pass its JSON line on."""
    out = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        error = (out.stderr.strip().splitlines() or ["no output"])[-1]
        print(json.dumps({"bench": script.removesuffix(".py"), "error": error}), flush=True)
        return
    print(lines[-1], flush=True)


def main() -> None:
    _run("decide_bench.py")
    _run("intake_bench.py")
    _run("e2e_bench.py", *E2E)
    _run("e2e_bench.py", *E2E, "--worker-processes", "2")
    _run("inapp_bench.py", *INAPP)
    _run("inapp_bench.py", *INAPP_2)
    _run("push_bench.py")
    _run("email_bench.py", "--seconds", "10", "--runs", "3")
    _run("twilio_bench.py", "--seconds", "10")
    _run("insights_bench.py")
    unreachable = postgres_reachable(PG_URL)
    if unreachable:
        for bench in ("e2e_postgres", "inapp_postgres", "insights_postgres"):
            print(json.dumps({"bench": bench, "skipped": unreachable}), flush=True)
    else:
        _run("e2e_bench.py", *E2E, "--database-url", PG_URL, "--workers", "2")
        _run("inapp_bench.py", *INAPP_2, "--database-url", _sibling(PG_URL, "_inapp"))
        _run("insights_bench.py", "--database-url", _sibling(PG_URL, "_insights"))


def _sibling(url: str, suffix: str) -> str:
    """``url`` with ``suffix`` added to its database name."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    return parsed.set(database=f"{parsed.database}{suffix}").render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
