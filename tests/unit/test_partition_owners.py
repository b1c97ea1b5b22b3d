"""Which lease owners are known gone: only a dead process of this host."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from clarion.runtime.partitions import gone_here
from clarion.runtime.workers import worker_id


def test_a_reaped_process_of_this_host_is_gone() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert gone_here(f"{socket.gethostname()}:{dead.pid}:abcd1234")


def test_a_live_one_another_host_s_or_an_odd_name_is_not() -> None:
    host = socket.gethostname()
    assert not gone_here(worker_id())  # this very process
    assert not gone_here(f"{host}:1:abcd")  # pid 1 exists (init, perhaps not ours)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as alive:
        try:
            assert not gone_here(f"{host}:{alive.pid}:abcd")
        finally:
            alive.kill()
    assert not gone_here(f"other-{host}:{os.getpid() + 100_000}:abcd")
    assert not gone_here("w1")
    assert not gone_here(f"{host}:not-a-pid:abcd")
