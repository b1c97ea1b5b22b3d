"""``web-push-testing`` (npm) as a Web Push peer: it creates subscriptions, checks the
VAPID signature against the subscription's ``applicationServerKey``, decrypts
each message (aes128gcm), and tells what each subscription received.

Installed by ``make peers`` into ``node_modules``. Its CLI detaches and keeps a
pid file; the server script is started directly instead, as a child we own.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SERVER = ROOT / "node_modules" / "web-push-testing" / "src" / "bin" / "server.js"


def missing() -> str | None:
    """Why the peer cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (web-push-testing needs Node.js >= 20)"
    if not SERVER.exists():
        return f"{SERVER.relative_to(ROOT)} is missing: run `make peers`"
    return None


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class WebPushTesting:
    """A running ``web-push-testing`` server."""

    def __init__(self, log: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://localhost:{self.port}"
        self._log = log.open("wb")
        self._proc = subprocess.Popen(
            ["node", str(SERVER), str(self.port)], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                self._post("/status", None)
                return
            except (OSError, urllib.error.URLError):
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"web-push-testing did not start: see {log}") from None
                time.sleep(0.1)

    def _post(self, path: str, body: object) -> object:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(
            self.base_url + path, data=data, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw and raw != b"OK" else None

    def subscribe(self, application_server_key: str) -> dict[str, object]:
        """A new subscription (``endpoint``, ``keys``, ``clientHash``) for that VAPID key."""
        # The server wants the string "true", not a JSON boolean.
        reply = self._post(
            "/subscribe",
            {"userVisibleOnly": "true", "applicationServerKey": application_server_key},
        )
        assert isinstance(reply, dict)
        data: dict[str, object] = reply["data"]
        return data

    def messages(self, client_hash: str) -> list[str]:
        """The decrypted messages the subscription received, in order."""
        reply = self._post("/get-notifications", {"clientHash": client_hash})
        assert isinstance(reply, dict)
        found: list[str] = reply["data"]["messages"]
        return found

    def expire(self, client_hash: str) -> None:
        """Make the subscription answer 410 Gone from now on."""
        self._post(f"/expire-subscription/{client_hash}", None)

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()


def token_of(subscription: dict[str, object]) -> str:
    """A web device's push token: the subscription as the browser serializes it."""
    return json.dumps({"endpoint": subscription["endpoint"], "keys": subscription["keys"]})


def start_or_skip(log: Path) -> WebPushTesting:
    """The peer for a test, or a skip saying why it cannot run (a failure under CI)."""
    why = missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return WebPushTesting(log)
