"""How every benchmark counts, times and judges a run: one implementation for all of them.

* Intake: only answers with the expected status (``202`` for events) are accepted
  events; any other answer is *refused*, a request with no answer is an *error*
  (``Intake``, read from the load generator's JSON).
* Deliveries: a message is delivered once however many times it arrives; only
  distinct guids (or peer ids) count, the repeats are reported as duplicates
  (``Deliveries``).
* Latency: from the time the event was *due* in the open-loop schedule to its
  first arrival at the provider, so a stalled server shows up as latency and not
  as a lower send rate (no coordinated omission; ``latencies_from_due``). The
  load generator (``bench.loadgen``) is the open-loop scheduler and logs each
  accepted request's due time.
* CPU: the server processes' (and their children's) CPU seconds from /proc over
  the measured interval, per delivered message, and as cores used (``CpuMeter``).
* Verdict: a run with any error or refused request does not meet its target,
  whatever its rate (``report``).
* Payloads vary (amounts, titles, currencies over profiles of mixed locales), so
  formatting and rendering caches are not warm by construction (``varied_events``).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of already sorted values; NaN when empty."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def latency_summary(sorted_ms: Sequence[float], digits: int = 1) -> dict[str, object]:
    """p50/p90/p99/max of sorted latencies in milliseconds, and how many there were."""
    return {
        "p50": round(percentile(sorted_ms, 50), digits),
        "p90": round(percentile(sorted_ms, 90), digits),
        "p99": round(percentile(sorted_ms, 99), digits),
        "max": round(sorted_ms[-1], digits) if sorted_ms else None,
        "count": len(sorted_ms),
    }


@dataclass(frozen=True)
class Intake:
    """What the server answered: accepted (the expected status), refused (any other
    status), errors (no answer at all)."""

    accepted: int
    refused: int
    errors: int
    refused_by_status: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, summary: Mapping[str, object]) -> Intake:
        """From the load generator's JSON summary (every request it sent)."""
        bad = summary.get("bad_status") or {}
        assert isinstance(bad, dict)
        refused = {str(status): int(n) for status, n in bad.items()}
        accepted = summary["accepted"]
        errors = summary["errors"]
        assert isinstance(accepted, int) and isinstance(errors, int)
        return cls(accepted, sum(refused.values()), errors, refused)

    def __add__(self, other: Intake) -> Intake:
        merged = dict(self.refused_by_status)
        for status, n in other.refused_by_status.items():
            merged[status] = merged.get(status, 0) + n
        return Intake(
            self.accepted + other.accepted,
            self.refused + other.refused,
            self.errors + other.errors,
            merged,
        )

    @property
    def clean(self) -> bool:
        """Every request was answered with the expected status."""
        return self.refused == 0 and self.errors == 0


@dataclass
class Deliveries:
    """Distinct deliveries by guid: the first arrival of each, repeats counted apart."""

    first: dict[str, float] = field(default_factory=dict)  # guid -> first arrival (epoch s)
    duplicates: int = 0

    def add(self, guid: str, at: float) -> None:
        known = self.first.get(guid)
        if known is None:
            self.first[guid] = at
        else:
            self.duplicates += 1
            self.first[guid] = min(known, at)

    def extend(self, arrivals: Iterable[tuple[str, float]]) -> Deliveries:
        for guid, at in arrivals:
            self.add(guid, at)
        return self

    def __len__(self) -> int:
        return len(self.first)

    def within(self, start: float, end: float) -> int:
        """Distinct guids whose first arrival lies in [start, end]."""
        return sum(1 for at in self.first.values() if start <= at <= end)


def due_times(log: Path) -> tuple[list[float | None], int]:
    """(due time, epoch seconds, of each accepted request by request number; None for
    requests not accepted), and the events per request, from a ``loadgen --log`` file."""
    data = json.loads(log.read_text())
    return data["due"], int(data["batch"])


def latencies_from_due(
    arrivals: Iterable[tuple[str, float]],
    due: Sequence[float | None],
    prefix: str,
    batch: int = 1,
    since: float = float("-inf"),
) -> list[float]:
    """Event->arrival latencies (ms, sorted) of arrivals given as (event id, first arrival
    time): event ``{prefix}{n}`` is event n of the run, due when request ``n // batch``
    was due. Events not accepted, of other runs, or due before ``since`` are left out."""
    latencies: list[float] = []
    for event_id, at in arrivals:
        if not event_id.startswith(prefix):
            continue
        try:
            request = int(event_id[len(prefix) :]) // batch
        except ValueError:
            continue
        was_due = due[request] if request < len(due) else None
        if was_due is not None and was_due >= since:
            latencies.append((at - was_due) * 1000)
    latencies.sort()
    return latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time (all cores, every process) the machine has spent busy since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def with_children(pids: Sequence[int]) -> list[int]:
    """``pids`` and their direct child processes (``--worker-processes``, ``--api-processes``)."""
    found = list(pids)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid in pids:
            found.append(int(stat.parent.name))
    return found


@dataclass(frozen=True)
class CpuUsage:
    """CPU seconds the measured processes spent over ``wall_s`` seconds."""

    cpu_s: float
    wall_s: float

    @property
    def cores(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def per_message_us(self, messages: int) -> float | None:
        return self.cpu_s / messages * 1e6 if messages > 0 else None


class CpuMeter:
    """CPU of server processes (and their children) between ``start`` and ``stop``."""

    def __init__(self, pids: Sequence[int]) -> None:
        self._pids = list(pids)
        self._before: dict[int, float] = {}
        self._t0 = 0.0

    def start(self) -> CpuMeter:
        self._before = {pid: cpu_seconds(pid) for pid in with_children(self._pids)}
        self._t0 = time.perf_counter()
        return self

    def stop(self) -> CpuUsage:
        wall = time.perf_counter() - self._t0
        # A child started in between counts from zero; one that ended is lost (rare:
        # the benchmarks stop their processes after measuring).
        now = {pid: cpu_seconds(pid) for pid in with_children(self._pids)}
        spent = sum(max(0.0, cpu - self._before.get(pid, 0.0)) for pid, cpu in now.items())
        return CpuUsage(spent, wall)


@dataclass(frozen=True)
class Floor:
    """What the same work costs without Clarion, measured in the same run: e.g. raw
    SQLite inserts of the same rows, or the peer's ceiling under a plain load generator."""

    what: str
    messages_per_s: float


def report(
    *,
    intake: Intake,
    delivered: int,
    expected: int,
    duplicates: int,
    cpu: CpuUsage,
    rate_ok: bool,
    messages_per_s: float | None = None,
    floor: Floor | None = None,
) -> dict[str, object]:
    """The figures every benchmark prints, and its verdict: ``target_met`` only when the
    rate/latency targets were met (``rate_ok``), every request was accepted and every
    accepted event's messages arrived (distinct guids)."""
    cpu_us = cpu.per_message_us(delivered)
    out: dict[str, object] = {
        "accepted": intake.accepted,
        "refused": intake.refused,
        "errors": intake.errors,
        "delivered": delivered,
        "expected": expected,
        "duplicates": duplicates,
        "cpu_us_per_message": round(cpu_us, 1) if cpu_us is not None else None,
        "cores_used": round(cpu.cores, 2),
    }
    if intake.refused_by_status:
        out["refused_by_status"] = dict(intake.refused_by_status)
    if floor is not None:
        out["floor"] = {"what": floor.what, "messages_per_s": round(floor.messages_per_s, 1)}
        out["ratio_to_floor"] = (
            round(messages_per_s / floor.messages_per_s, 3)
            if messages_per_s is not None and floor.messages_per_s > 0
            else None
        )
    out["target_met"] = bool(rate_ok and intake.clean and delivered >= expected > 0)
    return out


#: Show titles and currencies the varied payloads draw from; amounts are random cents, so
#: hardly two events format the same amount (the helpers keep 1,024 per locale).
TITLES = (
    "Dark", "Wednesday", "Stranger Things", "The Crown", "Narcos", "Ozark", "Lupin",
    "Money Heist", "Squid Game", "Bridgerton", "The Witcher", "Mindhunter", "Elite",
    "Sex Education", "Cobra Kai", "Arcane", "Black Mirror", "Dark Desire", "Sintonia",
    "3%", "Café com Aroma de Mulher", "Élite: Historias Breves", "Ginny & Georgia",
)  # fmt: skip
CURRENCIES = ("USD", "EUR", "BRL", "GBP", "JPY", "MXN", "CAD", "INR")


def varied_events(event_type: str, tag: str, count: int, seed: int = 1) -> list[str]:
    """``count`` JSON event bodies for the load generator's ``--body-file`` (request i
    sends line ``i % count``): ids ``{tag}-$SEQ``, random profiles (``$PROFILE``: the
    population mixes locales and zones), and a payload with its own amount, currency
    and title (a season suffix multiplies the titles)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        payload = {
            "amount": rng.randrange(100, 100_000) / 100,
            "currency": rng.choice(CURRENCIES),
            "show_title": f"{rng.choice(TITLES)} {rng.randrange(1, 40)}",
        }
        event = {"id": f"{tag}-$SEQ", "type": event_type, "profile_id": "p$PROFILE"}
        lines.append(json.dumps({**event, "payload": payload}, ensure_ascii=False))
    return lines


def write_bodies(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path
