"""Several API processes on one port (``clarion serve --api-processes N``).

One Python process serves HTTP on at most one core (the interpreter lock), and
device fetches are CPU-bound. With ``api_processes = N`` the ``serve`` process
starts N - 1 children that serve the same API on the same address: every
process opens its own listening socket with ``SO_REUSEPORT`` and the kernel
spreads new connections over them. Only the ``serve`` process runs the workers
(as configured); the children serve the API only, each with its own store
pool, catalog (kept fresh by its ``Service``, as in every process) and
caches. The parent waits until every child listens before it answers
``/readyz``, restarts a child that dies, and stops them when it stops; a child
whose parent died stops by itself.

Prometheus metrics (``/metrics``) are per process: a scrape sees the process
that answered it.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import threading
import time
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from clarion.config import Settings
from clarion.observability import configure_logging, get_logger

log = get_logger("clarion.api.processes")

#: How often a child checks that its parent lives, and the parent its children.
_CHECK_S = 1.0
_READY_TIMEOUT_S = 120.0


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that other processes may share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How every API process runs uvicorn."""
    return {
        "access_log": settings.log_requests,
        "log_level": "warning",
        "loop": "uvloop",
        "http": "httptools",
    }


class ApiProcesses:
    """Starts, watches and stops the extra API processes of ``clarion serve``."""

    def __init__(self, settings: Settings, count: int) -> None:
        self._settings = settings.model_copy(
            update={"run_workers": False, "worker_processes": 0, "api_processes": 1}
        )
        self._context = multiprocessing.get_context("spawn")
        self._children: list[SpawnProcess | None] = [None] * count
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="clarion-api", daemon=True)

    def start(self) -> None:
        """Start every child and wait until each listens (raises if one cannot)."""
        ready = [self._spawn(index) for index in range(len(self._children))]
        deadline = time.monotonic() + _READY_TIMEOUT_S
        for index, event in enumerate(ready):
            child = self._children[index]
            while not event.wait(0.1):
                if child is None or not child.is_alive() or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"API process {index + 1} did not start")
        self._watcher.start()
        log.info("api_processes_started", pids=[c.pid for c in self._children if c])

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        children = [c for c in self._children if c is not None]
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: uvicorn finishes its requests and leaves
        for child in children:
            child.join(timeout)
            if child.is_alive():
                child.kill()
                child.join()
        if self._watcher.is_alive():
            self._watcher.join(timeout)
        self._children = [None] * len(children)

    def _spawn(self, index: int) -> ProcessEvent:
        ready = self._context.Event()
        child = self._context.Process(
            target=_child_main,
            args=(self._settings, ready, os.getpid()),
            name=f"clarion-api-{index + 1}",
            daemon=True,
        )
        child.start()
        self._children[index] = child
        return ready

    def _watch(self) -> None:
        while not self._stopping.wait(_CHECK_S):
            for index, child in enumerate(self._children):
                if child is not None and not child.is_alive() and not self._stopping.is_set():
                    log.error("api_process_died", pid=child.pid, exitcode=child.exitcode)
                    self._spawn(index)


def _child_main(settings: Settings, ready: ProcessEvent, parent: int) -> None:
    """A child's whole life: serve the API until SIGTERM or the parent's death."""
    import uvicorn

    from clarion.api.app import asgi_app
    from clarion.service import Service

    configure_logging(settings.log_level, settings.log_json)
    service = Service(settings)
    sock = listening_socket(settings.host, settings.port)
    server = uvicorn.Server(uvicorn.Config(asgi_app(service), **uvicorn_options(settings)))

    def watch() -> None:
        """Readiness once uvicorn serves; the parent's death."""
        while not server.started:
            if server.should_exit:
                return  # it failed to start: the parent sees the process end
            time.sleep(0.05)
        ready.set()
        while not server.should_exit:
            time.sleep(_CHECK_S)
            if os.getppid() != parent:
                log.warning("api_process_orphaned", pid=os.getpid())
                server.should_exit = True

    threading.Thread(target=watch, name="clarion-api-watch", daemon=True).start()
    server.run(sockets=[sock])
