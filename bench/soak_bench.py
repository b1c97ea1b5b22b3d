"""Memory under a steady load (issue 11, item 7): the RSS of ``clarion serve`` each minute.

A population of profiles (``bench.population``: addresses and one push-capable
device each) is written once; ``clarion serve`` (embedded: the API and every
worker in one process) then takes, for ``--minutes``, ``payment.failed`` events
for random profiles at ``--rate`` events/s (four messages each, all to the sink
provider) and in-app fetches at ``--fetch-rate``/s, each with its profile's own
device token, both open loop from separate load-generator processes. The RSS
of the server (with its children, if any) is read when the load starts and at
the end of each minute.

Prints one JSON line: the RSS at each minute, events accepted (202 only),
fetches answered 200, messages delivered (sink lines), and the ratio of the
final RSS to the RSS at minute 5 (the target, for a 30-minute run, is ≤ 1.10).

``--diagnose`` runs the server under ``bench/traced_serve.py``, which says every
30 s where its memory is (C allocator, SQLite, threads); ``--tracemalloc`` also
traces Python's allocations (much slower) and adds the allocation sites that
grew most between the first and the last snapshot.

    python bench/soak_bench.py [--minutes 5] [--rate 100] [--diagnose | --tracemalloc]
    python bench/soak_bench.py --minutes 30
    python bench/soak_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1/clarion_soak
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.inapp_bench import DEVICE_SECRET, FEEDBACK_KEY, write_tokens
from bench.population import populate
from bench.support import (
    API_KEY,
    ROOT,
    Process,
    clarion_env,
    drop_postgres,
    free_port,
    recreate_postgres,
    serve,
    wait_ready,
)
from clarion.store import migrate

EVENT = (
    '{"id":"soak-$SEQ","type":"payment.failed","profile_id":"p$PROFILE",'
    '"payload":{"amount":15.49,"currency":"USD","show_title":"Dark"}}'
)
TARGET_RATIO = 1.10
DRAIN_S = 30.0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=int, default=5)
    p.add_argument("--rate", type=float, default=100.0, help="events/s")
    p.add_argument("--fetch-rate", type=float, default=20.0, help="in-app fetches/s (0: none)")
    p.add_argument("--profiles", type=int, default=20_000)
    p.add_argument("--database-url", help="PostgreSQL (dropped and recreated); default SQLite")
    p.add_argument("--workdir", type=Path, help="for the database, sink and logs")
    p.add_argument("--diagnose", action="store_true", help="where the server's memory is")
    p.add_argument("--tracemalloc", action="store_true", help="and what grew (much slower)")
    p.add_argument("--frames", type=int, default=12, help="traceback depth with --tracemalloc")
    return p.parse_args(argv)


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children, in MB."""
    total = 0
    for proc in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


class SinkCounter:
    """Counts the sink's lines as they come, reading only what was appended."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self.lines = 0

    def count(self) -> int:
        if self._path.exists():
            with self._path.open("rb") as f:
                f.seek(self._offset)
                while chunk := f.read(1 << 20):
                    self.lines += chunk.count(b"\n")
                    self._offset += len(chunk)
        return self.lines


def _loadgen(url: str, template: str, *options: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "bench.loadgen", url, "--template", template, *options]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def _summary(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode})")
    summary: dict[str, object] = json.loads(out)
    return summary


def _grown(folder: Path, top: int = 15) -> list[dict[str, object]]:
    """The allocation sites that grew most from the first snapshot to the last."""
    snapshots = sorted(folder.glob("snapshot-*.pickle"), key=lambda p: int(p.stem.split("-")[1]))
    if len(snapshots) < 2:
        return []
    first = tracemalloc.Snapshot.load(str(snapshots[0]))
    last = tracemalloc.Snapshot.load(str(snapshots[-1]))
    grown = []
    for stat in last.compare_to(first, "traceback")[:top]:
        frames = [f"{f.filename.split('/src/')[-1]}:{f.lineno}" for f in stat.traceback]
        grown.append(
            {
                "kb": round(stat.size_diff / 1024, 1),
                "blocks": stat.count_diff,
                "where": frames[-6:],  # the outermost frames of the deepest ones kept
            }
        )
    return grown


def _server(args: argparse.Namespace, env: dict[str, str], port: int, tmp: Path) -> Process:
    """``clarion serve`` on ``port``, under tracemalloc when asked, once ready."""
    if not (args.diagnose or args.tracemalloc):
        return serve(env, port, tmp / "server.log")
    frames = args.frames if args.tracemalloc else 0
    traced = [sys.executable, str(ROOT / "bench" / "traced_serve.py"), str(tmp / "memory")]
    traced += ["30", str(frames), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = Process(traced, env, tmp / "server.log")
    wait_ready(port, server, timeout=180)
    return server


def _load(args: argparse.Namespace, base: str, tokens: Path) -> list[subprocess.Popen[str]]:
    """The load generators: events, then (with a fetch rate) in-app fetches."""
    seconds = str(args.minutes * 60)
    key = f"Authorization: Bearer {API_KEY}"
    common = ("--rate", str(args.rate), "--duration", seconds, "--connections", "8")
    procs = [
        _loadgen(
            f"{base}/v1/events", EVENT, "--header", key, *common, "--profiles", str(args.profiles)
        )
    ]
    if args.fetch_rate > 0:
        query = "platform=web&deviceId=d$PROFILE&locale=en"
        options = ("--method", "GET", "--expect", "200", "--header-file", str(tokens))
        timing = ("--rate", str(args.fetch_rate), "--duration", seconds, "--connections", "4")
        procs.append(_loadgen(f"{base}/v1/inapp/alerts?{query}", "", *options, *timing))
    return procs


def run(args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    url = args.database_url or f"sqlite:///{tmp / 'clarion.db'}"
    if args.database_url:
        recreate_postgres(url)
    migrate(url)
    populate(url, args.profiles)
    tokens = tmp / "tokens.txt"
    write_tokens(tokens, args.profiles)
    sink = tmp / "sink.jsonl"
    env = clarion_env(
        url,
        sink,
        CLARION_DEVICE_TOKEN_SECRETS=json.dumps({"default": DEVICE_SECRET}),
        CLARION_FEEDBACK_KEYS=json.dumps({"bench": FEEDBACK_KEY}),
    )
    port = free_port()
    server = _server(args, env, port, tmp)
    counter = SinkCounter(sink)
    try:
        pid = server.proc.pid
        rss = [rss_mb(pid)]
        delivered = [counter.count()]
        load = _load(args, f"http://127.0.0.1:{port}", tokens)
        start = time.monotonic()
        for minute in range(1, args.minutes + 1):
            time.sleep(max(0.0, start + 60 * minute - time.monotonic()))
            rss.append(rss_mb(pid))
            delivered.append(counter.count())
            print(f"minute {minute}: {rss[-1]} MB, {delivered[-1]} messages", file=sys.stderr)
        summaries = [_summary(proc) for proc in load]
        seen, deadline = -1, time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and counter.count() != seen:
            seen = counter.lines
            time.sleep(2)
        final_rss = rss_mb(pid)
    finally:
        server.stop()
        if args.database_url:
            drop_postgres(url)
    sent, fetched = summaries[0], (summaries[1] if len(summaries) > 1 else None)
    at_5 = rss[5] if len(rss) > 5 else None
    result: dict[str, object] = {
        "bench": "soak",
        "database": url.split(":", 1)[0].split("+", 1)[0],
        "minutes": args.minutes,
        "offered_events_per_s": args.rate,
        "offered_fetches_per_s": args.fetch_rate,
        "profiles": args.profiles,
        "rss_mb_by_minute": rss,
        "rss_mb_after_drain": final_rss,
        "messages_by_minute": delivered,
        "events_accepted": sent["accepted"],
        "event_errors": sent["errors"],
        "event_latency_ms": sent["latency_ms"],
        "fetches_ok": fetched["accepted"] if fetched else 0,
        "fetch_latency_ms": fetched["latency_ms"] if fetched else None,
        "messages_delivered": counter.lines,
        "ratio_final_to_minute_1": round(rss[-1] / rss[1], 3) if len(rss) > 1 else None,
        "ratio_final_to_minute_5": round(rss[-1] / at_5, 3) if at_5 else None,
        "target_ratio": TARGET_RATIO,
        "tracemalloc": args.tracemalloc,
    }
    accounting = tmp / "memory" / "memory.jsonl"
    if accounting.exists():
        result["memory"] = [json.loads(line) for line in accounting.read_text().splitlines()]
    if args.tracemalloc:
        result["grew_most"] = _grown(tmp / "memory")
    return result


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        print(json.dumps(run(args, args.workdir)))
        return
    with tempfile.TemporaryDirectory(prefix="clarion-soak-") as scratch:
        print(json.dumps(run(args, Path(scratch))))


if __name__ == "__main__":
    main()
