"""The C allocator's arenas: at most two per process (glibc's ``M_ARENA_MAX``).

glibc gives each thread that allocates while another holds an arena's lock an
arena of its own, up to eight per core, and keeps the memory freed in each for
that arena's later use. A Clarion process runs the API's threads, the workers
and their database connections side by side, so each of up to 16 arenas (two
cores) kept its own free memory: under a soak of 20 profiles at 100 events/s
the allocator's arenas grew from 65 to 93 MB in 5 minutes with no more in use
(28 MB free but kept), and the RSS with them. Two arenas held 71 MB, flat after
the second minute (``bench/soak_bench.py --diagnose``, README). Python's own
allocator, which holds most objects, does not go through these arenas.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

#: ``mallopt`` parameter number of ``M_ARENA_MAX`` (glibc's malloc.h).
_M_ARENA_MAX = -8
ARENAS = 2


def cap_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's arenas for this process, before its threads start; whether it did.

    An operator's own ``MALLOC_ARENA_MAX`` wins, and on another C library (musl,
    macOS) nothing changes."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        if not hasattr(libc, "gnu_get_libc_version"):
            return False
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except OSError:
        return False
