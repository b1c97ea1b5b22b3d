"""Crash safety (DESIGN §8): 0 accepted events lost over 100 random ``kill -9`` trials.

Each trial starts ``clarion serve`` on one database and sink, streams
payment.failed events at it from several connections and SIGKILLs it at a random
moment. After the last trial the server is started once more, left to drain and
stopped; then every event answered with 202 must be stored with exactly its four
messages, each delivered and in the sink. Prints one JSON line; exits 1 if any
check failed (the problems go to stderr).

    .venv/bin/python bench/crash_bench.py --trials 100 [--database-url URL]

Without ``--database-url`` it uses a new SQLite file. A given database must be
empty (the server creates the schema): every event in it is checked against
what this run's clients were told.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100, help="kills (default 100)")
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument(
        "--workdir", type=Path, help="for the sink, config and log (default: temporary)"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--profiles", type=int, default=20)
    parser.add_argument(
        "--kill-min", type=float, default=0.3, help="earliest kill, s after streaming starts"
    )
    parser.add_argument("--kill-max", type=float, default=1.5, help="latest kill")
    parser.add_argument("--lease", type=float, default=2.0, help="event and message lease, s")
    parser.add_argument("--seed", type=int, help="for the kill times")
    return parser.parse_args(argv)


def _require_empty(database_url: str) -> None:
    """Refuse a database that already holds events: they would count as strays."""
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            if sa.inspect(conn).has_table("events"):
                count = conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
                if count:
                    where = sa.make_url(database_url).render_as_string(hide_password=True)
                    raise SystemExit(f"{where} already holds {count} events")
    finally:
        engine.dispose()


def run(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    """Run the trials in ``workdir``; the benchmark's JSON object."""
    # The trial loop lives with the crash test, which runs it with a few kills;
    # the repository root makes ``tests`` importable from this script.
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.integration.crash_support import ServerConfig, run_trials

    database_url = args.database_url or f"sqlite:///{workdir / 'clarion.db'}"
    _require_empty(database_url)
    config = ServerConfig(database_url, workdir, lease_seconds=args.lease)
    seed = args.seed if args.seed is not None else random.randrange(2**32)

    def progress(trial: int, ledger: object) -> None:
        if (trial + 1) % 10 == 0:
            print(f"trial {trial + 1}/{args.trials}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    verdict = run_trials(
        config,
        args.trials,
        random.Random(seed),
        profiles=args.profiles,
        clients=args.clients,
        kill_window=(args.kill_min, args.kill_max),
        settle_timeout=300.0,
        on_trial=progress,
    )
    elapsed = time.perf_counter() - start
    for problem in verdict.problems:
        print(problem, file=sys.stderr)
    return {
        "bench": "crash",
        "database": sa.make_url(database_url).get_backend_name(),
        "trials": args.trials,
        "seed": seed,
        **verdict.summary(),
        "elapsed_s": round(elapsed, 1),
        "ok": not verdict.problems,
        "target_events_lost": 0,
    }


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.workdir is not None:
        result = run(args, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="clarion-crash-") as scratch:
            result = run(args, Path(scratch))
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
