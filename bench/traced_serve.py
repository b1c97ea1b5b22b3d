"""``clarion serve`` with its memory accounted for, for ``bench/soak_bench.py --diagnose``.

``python bench/traced_serve.py DIR SECONDS FRAMES serve ...`` runs the
``clarion`` command of the arguments after FRAMES in this process. Every
SECONDS a thread appends to ``DIR/memory.jsonl`` where the memory is: the RSS
(anonymous and file-backed), what the C allocator holds (glibc ``mallinfo2``:
in use, free but kept, and its arenas), what SQLite holds
(``sqlite3_memory_used``: page caches and statements), how many blocks
Python's small-object allocator has handed out, how many objects the garbage
collector tracks and, when FRAMES > 0, what Python objects hold (tracemalloc).

With FRAMES > 0, tracemalloc starts after the first SECONDS (tracing the
start-up slows it down several times over, and what grows comes later), and a
snapshot goes to ``DIR/snapshot-<n>.pickle`` every SECONDS after that; compare
two with ``tracemalloc.Snapshot.load(a).compare_to(...)``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _libc_mallinfo() -> dict[str, float]:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not hasattr(libc, "mallinfo2"):
        return {}
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    mb = 1024 * 1024
    return {
        "malloc_in_use_mb": round((info.uordblks + info.hblkhd) / mb, 1),
        "malloc_free_kept_mb": round(info.fordblks / mb, 1),
        "malloc_arena_mb": round(info.arena / mb, 1),
    }


def _sqlite_used_mb() -> float | None:
    import sqlite3  # noqa: F401  (loads libsqlite3 into the process)

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    used: int = lib.sqlite3_memory_used()
    return round(used / (1024 * 1024), 1)


def _rss_mb() -> dict[str, float]:
    """The RSS, and its parts: anonymous (heap, stacks) and file-backed (code)."""
    found = {}
    for line in Path(f"/proc/{os.getpid()}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            found[f"{name.lower()}_mb"] = round(int(value.split()[0]) / 1024, 1)
    return found


def _account(folder: Path, seconds: float, frames: int, stop: threading.Event) -> None:
    n = 0
    started = time.monotonic()
    while not stop.wait(seconds):
        n += 1
        line: dict[str, object] = {
            "s": round(time.monotonic() - started),
            **_rss_mb(),
            **_libc_mallinfo(),
            "sqlite_mb": _sqlite_used_mb(),
            # Python's own allocator (objects up to 512 bytes) takes memory
            # from the system directly, not through malloc: its blocks in use.
            "python_blocks": sys.getallocatedblocks(),
            "gc_objects": len(gc.get_objects()),
            "threads": threading.active_count(),
        }
        if frames > 0 and not tracemalloc.is_tracing():
            tracemalloc.start(frames)
        elif frames > 0:
            line["python_traced_mb"] = round(tracemalloc.get_traced_memory()[0] / 2**20, 1)
            # Written under a temporary name: a reader never sees half a snapshot.
            partial = folder / f".snapshot-{n}.pickle"
            tracemalloc.take_snapshot().dump(str(partial))
            partial.rename(folder / f"snapshot-{n}.pickle")
        with (folder / "memory.jsonl").open("a") as f:
            f.write(json.dumps(line) + "\n")


def main() -> None:
    folder, seconds, frames = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    folder.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    threading.Thread(
        target=_account, args=(folder, seconds, frames, stop), name="memory", daemon=True
    ).start()
    from clarion.cli import main as clarion

    sys.argv = ["clarion", *sys.argv[4:]]
    try:
        clarion()
    finally:
        stop.set()


if __name__ == "__main__":
    main()
