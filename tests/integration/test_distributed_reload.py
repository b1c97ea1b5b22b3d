"""The distributed layout reloads the catalog everywhere: ``clarion serve --no-workers``
(the API alone) and ``clarion worker`` each keep their own catalog fresh, so a change
in the catalog folder reaches the API's in-app fetches (issue 11, item 10)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from clarion.inapp import issue_device_token
from tests.integration.pipeline_support import EXAMPLE_CATALOG, wait_for
from tests.integration.test_api_processes import _free_port, _ready

DEVICE_SECRET = "d" * 32
API_KEY = "distributed-test-key"
PAYMENT = {"amount": 15.49, "currency": "USD", "show_title": "Dark"}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An API process and a worker process on one database; the API's URL and the
    catalog folder both read."""
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLARION_")}
    env.update(
        {
            # Processes, not storage: the store's part is tested on both stores.
            "CLARION_DATABASE_URL": f"sqlite:///{tmp_path / 'clarion.db'}",
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
    cli = [sys.executable, "-m", "clarion.cli"]
    api_args = [*cli, "serve", "--no-workers", "--host", "127.0.0.1", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "api.log").open("wb") as api_log:
        api = subprocess.Popen(api_args, env=env, stdout=api_log, stderr=subprocess.STDOUT)
        try:
            # The API creates the schema before the worker starts on it.
            wait_for(lambda: api.poll() is not None or _ready(base), timeout=60)
            assert api.poll() is None, (tmp_path / "api.log").read_text()
            with (tmp_path / "worker.log").open("wb") as worker_log:
                worker = subprocess.Popen(
                    [*cli, "worker"], env=env, stdout=worker_log, stderr=subprocess.STDOUT
                )
                try:
                    yield base, catalog
                    assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                finally:
                    _stop(worker)
        finally:
            _stop(api)


def _cta_copy(base: str, token: str) -> set[str]:
    r = httpx.get(
        f"{base}/v1/inapp/alerts?platform=web&deviceId=d&locale=en",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return {alert["template"]["ctas"][0]["copy"][0]["content"] for alert in r.json()["alerts"]}


def test_the_api_without_workers_serves_the_changed_catalog(layout: tuple[str, Path]) -> None:
    base, catalog = layout
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {API_KEY}"})
    profile = f"ana-{time.time_ns()}"
    body = {"email": "ana@example.com", "timezone": "UTC", "locale": "en"}
    assert api.put(f"/v1/profiles/{profile}", json=body).status_code == 200
    event = {"type": "payment.failed", "profile_id": profile, "payload": PAYMENT}
    assert api.post("/v1/events", json=event).status_code == 202
    api.close()
    token = issue_device_token(DEVICE_SECRET.encode(), profile, timedelta(hours=1))
    # The worker process stores the alert; the API process renders it at each fetch.
    assert wait_for(lambda: _cta_copy(base, token)) == {"Update payment"}

    strings = catalog / "strings" / "en.yaml"
    strings.write_text(strings.read_text().replace("Update payment", "Fix payment now"))

    assert wait_for(lambda: _cta_copy(base, token) == {"Fix payment now"}, timeout=20)
