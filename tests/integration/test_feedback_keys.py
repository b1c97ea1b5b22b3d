"""Feedback keys across restarts: an object signed by a key the server no longer has is
refused as ``unknown_key`` (not a misleading ``bad_signature``), on both stores."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from clarion.config import Settings
from clarion.service import feedback_signer
from tests.integration.conftest import (
    device_auth,
    fetch_alerts,
    inapp_settings,
    post_feedback,
    seed,
)
from tests.integration.pipeline_support import FakeClock, running, when_idle


def test_feedback_from_before_a_restart_without_keys_is_an_unknown_key(
    db_url: str, tmp_path: Path
) -> None:
    clock = FakeClock()
    settings = inapp_settings(db_url, tmp_path).model_copy(update={"feedback_keys": {}})
    with running(settings, clock=clock) as (client, service):
        seed(client, "ana")
        ana = device_auth(clock, "ana")
        [alert] = when_idle(service, lambda: fetch_alerts(client, ana))
    with running(settings, clock=clock) as (client, _):  # restarted: a new random key
        answer = post_feedback(client, ana, alert["attributes"]["impressionFeedback"])
        assert answer.status_code == 403
        assert answer.json()["error"] == "feedback_rejected"
        assert "unknown_key" in answer.json()["message"]


def test_random_feedback_keys_are_named_per_start_and_announced() -> None:
    settings = Settings(feedback_keys={})
    with structlog.testing.capture_logs() as logs:
        first = feedback_signer(settings, lambda: datetime.now(UTC))
    second = feedback_signer(settings, lambda: datetime.now(UTC))
    assert first.active != second.active  # so the other's objects are an unknown key
    [warning] = [entry for entry in logs if entry["event"] == "feedback_keys_random"]
    assert warning["log_level"] == "warning"
    assert "restart" in warning["effect"]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_signs_feedback_with_a_fixed_development_key() -> None:
    root = Path(__file__).parents[2]
    # -n prints the recipe without running it.
    recipe = subprocess.run(
        ["make", "-n", "run"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"CLARION_FEEDBACK_KEYS='([^']*)'", recipe)
    assert found is not None, recipe
    keys = json.loads(found.group(1))
    settings = Settings(feedback_keys=keys)
    signer = feedback_signer(settings, lambda: datetime.now(UTC))
    assert signer.active in keys  # the configured key signs: no random one
