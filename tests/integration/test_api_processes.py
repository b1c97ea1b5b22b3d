"""``clarion serve --api-processes 2``: two processes serve the API on one port, the
workers run once, a catalog change reaches every API process, and the children stop
with the parent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from clarion.inapp import issue_device_token
from tests.integration.pipeline_support import EXAMPLE_CATALOG, wait_for

DEVICE_SECRET = "d" * 32
API_KEY = "process-test-key"
PAYMENT = {"amount": 15.49, "currency": "USD", "show_title": "Dark"}


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _api_children(pid: int) -> list[int]:
    """The API processes ``pid`` spawned (multiprocessing children, not its tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLARION_")}
    env.update(
        {
            # Both stores: PostgreSQL is where several API processes usually run.
            "CLARION_DATABASE_URL": db_url,
            "CLARION_CATALOG": str(catalog),
            "CLARION_API_KEYS": API_KEY,
            "CLARION_PROVIDERS": json.dumps(
                {
                    "sink": {"type": "sink", "path": str(tmp_path / "sink.jsonl")},
                    "inapp": {"type": "inapp"},
                }
            ),
            "CLARION_DEVICE_TOKEN_SECRETS": json.dumps({"default": DEVICE_SECRET}),
            "CLARION_CATALOG_RELOAD_SECONDS": "0.3",
            "CLARION_POLL_INTERVAL_SECONDS": "0.02",
            "CLARION_LOG_LEVEL": "WARNING",
        }
    )
    args = [sys.executable, "-m", "clarion.cli", "serve", "--host", "127.0.0.1"]
    args += ["--port", str(port), "--api-processes", "2"]
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or _ready(base), timeout=60)
        assert proc.poll() is None, (tmp_path / "server.log").read_text()
        yield proc, base, catalog
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _cta_copy(base: str, token: str) -> set[str]:
    """The first CTA's copy as 12 fetches on fresh connections see it (the kernel
    spreads connections over both processes: each is missed with odds 1 in 2,048)."""
    seen = set()
    for _ in range(12):
        with httpx.Client(base_url=base, timeout=10) as client:
            r = client.get(
                "/v1/inapp/alerts?platform=web&deviceId=d&locale=en",
                headers={"Authorization": f"Bearer {token}"},
            )
        assert r.status_code == 200, r.text
        for alert in r.json()["alerts"]:
            seen.add(alert["template"]["ctas"][0]["copy"][0]["content"])
    return seen


def test_two_api_processes_share_the_port_and_the_catalog(
    server: tuple[subprocess.Popen[bytes], str, Path],
) -> None:
    proc, base, catalog = server
    [child] = _api_children(proc.pid)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"})
    profile = f"ana-{time.time_ns()}"
    body = {"email": "ana@example.com", "timezone": "UTC", "locale": "en"}
    assert api.put(f"/v1/profiles/{profile}", json=body).status_code == 200
    event = {"type": "payment.failed", "profile_id": profile, "payload": PAYMENT}
    assert api.post("/v1/events", json=event).status_code == 202
    token = issue_device_token(DEVICE_SECRET.encode(), profile, timedelta(hours=1))
    # The workers (in the serve process) deliver it once; every API process shows it.
    assert wait_for(lambda: _cta_copy(base, token)) == {"Update payment"}
    strings = catalog / "strings" / "en.yaml"
    strings.write_text(strings.read_text().replace("Update payment", "Fix payment now"))
    assert wait_for(lambda: _cta_copy(base, token) == {"Fix payment now"}, timeout=20)
    # No feedback key configured: one random key shared by both processes, so
    # feedback objects one signs, the other accepts.
    assert _post_impressions(base, token) > 0
    api.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    wait_for(lambda: not Path(f"/proc/{child}").exists() or _zombie(child), timeout=15)


def _post_impressions(base: str, token: str) -> int:
    """Fetch and post the impression back, each on a fresh connection; how many posted."""
    auth = {"Authorization": f"Bearer {token}"}
    posted = 0
    for _ in range(6):
        with httpx.Client(base_url=base, timeout=10, headers=auth) as client:
            alerts = client.get("/v1/inapp/alerts?platform=web&deviceId=d").json()["alerts"]
        if not alerts:
            break
        body = {
            "feedback": alerts[0]["attributes"]["impressionFeedback"],
            "context": {"platform": "web", "deviceId": "d"},
        }
        with httpx.Client(base_url=base, timeout=10, headers=auth) as client:
            response = client.post("/v1/inapp/feedback", json=body)
        assert response.status_code == 200, response.text
        posted += 1
    return posted


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
