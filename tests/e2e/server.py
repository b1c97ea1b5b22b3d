"""Serving an ASGI app on a real socket from a background thread, for a browser to reach.

``TestClient`` talks to the app without a socket; a browser needs one. ``serving``
binds a free port on 127.0.0.1, runs uvicorn (lifespan on, so Clarion's service
starts and stops with it) in a thread, and stops it with ``should_exit``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

STARTUP_TIMEOUT = 20.0


@contextmanager
def serving(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Runs ``app`` until the block ends; yields its base URL (``http://127.0.0.1:PORT``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", loop="asyncio", http="h11"
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the test thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if failure or not thread.is_alive():
            sock.close()
            raise RuntimeError(f"the server did not start: {failure or 'thread ended'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"the server did not start within {STARTUP_TIMEOUT}s")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the server did not stop")
