"""The catalog's life in a running server: checked by the CLI, refused when invalid at
start, hot-reloaded when valid, and kept at its last good version when not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from clarion.runtime.catalog_holder import CatalogHolder
from tests.integration.pipeline_support import EXAMPLE_CATALOG, wait_for

CLARION = [sys.executable, "-m", "clarion.cli"]


def _copy_catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, root)
    return root


def _break(root: Path) -> None:
    path = root / "messages" / "new_season.yaml"
    path.write_text(path.read_text().replace("window: 7d", "window: 7 days"))


def test_catalog_check_reports_file_and_key(tmp_path: Path) -> None:
    ok = subprocess.run(
        [*CLARION, "catalog", "check", str(EXAMPLE_CATALOG)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    root = _copy_catalog(tmp_path)
    _break(root)
    bad = subprocess.run(
        [*CLARION, "catalog", "check", str(root)], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1
    assert "messages/new_season.yaml: caps[0].window" in bad.stdout


def test_server_refuses_to_start_on_an_invalid_catalog(tmp_path: Path) -> None:
    root = _copy_catalog(tmp_path)
    _break(root)
    env = {
        **os.environ,
        "CLARION_CATALOG": str(root),
        "CLARION_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
    }
    result = subprocess.run(
        [*CLARION, "serve", "--port", "1"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to start" in result.stderr
    assert "messages/new_season.yaml: caps[0].window" in result.stderr


def test_hot_reload_keeps_the_last_good_catalog(tmp_path: Path) -> None:
    root = _copy_catalog(tmp_path)
    holder = CatalogHolder(root)
    first = holder.current
    assert holder.reload_if_changed() is False  # nothing changed
    _break(root)
    assert holder.reload_if_changed() is False
    assert holder.current is first  # the invalid version never went live
    strings = root / "strings" / "en.yaml"
    fixed = root / "messages" / "new_season.yaml"
    fixed.write_text(fixed.read_text().replace("window: 7 days", "window: 7d"))
    strings.write_text(strings.read_text().replace("Update payment", "Fix payment now"))
    assert holder.reload_if_changed() is True
    rendered = holder.current.render("payment_failed", 0, "en", {"event": {"show_title": "Dark"}})
    assert rendered.fields["cta_update"] == "Fix payment now"


def test_server_refuses_routes_to_unknown_providers(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CLARION_CATALOG": str(EXAMPLE_CATALOG),
        "CLARION_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
        "CLARION_ROUTES": '{"sms": "twilio"}',
    }
    result = subprocess.run(
        [*CLARION, "serve", "--port", "1"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "routes name unknown providers {'sms': 'twilio'}" in result.stderr


def test_a_watched_catalog_reloads_by_itself_and_waits_out_a_missing_folder(
    tmp_path: Path,
) -> None:
    root = _copy_catalog(tmp_path)
    holder = CatalogHolder(root)
    first = holder.current
    holder.watch(0.05)
    try:
        aside = tmp_path / "aside"
        root.rename(aside)  # mid-deploy: the folder is briefly gone
        time.sleep(0.3)
        assert holder.current is first
        strings = aside / "strings" / "en.yaml"
        strings.write_text(strings.read_text().replace("Update payment", "Fix payment now"))
        aside.rename(root)

        wait_for(lambda: holder.current is not first, timeout=30)
    finally:
        holder.stop_watching()
    rendered = holder.current.render("payment_failed", 0, "en", {"event": {"show_title": "Dark"}})
    assert rendered.fields["cta_update"] == "Fix payment now"
