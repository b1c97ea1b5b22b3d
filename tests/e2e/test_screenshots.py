"""`clarion screenshots`: every in-app message, locale and platform frame as a PNG,
a gallery, and missing copy reported as an error instead of a blank."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from clarion.inapp.browser import chromium_path
from tests.e2e.browser import _unavailable
from tests.integration.pipeline_support import EXAMPLE_CATALOG

PNG = b"\x89PNG\r\n\x1a\n"


def test_screenshots_cover_every_locale_and_frame_and_report_missing_copy(tmp_path: Path) -> None:
    if chromium_path() is None:
        _unavailable("Chromium not found: apt-get install chromium to take screenshots")
    catalog = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, catalog)
    for name in ("payment_failed", "top_pick"):  # keep the run short: add_phone alone
        (catalog / "messages" / f"{name}.yaml").unlink()
    spanish = catalog / "strings" / "es.yaml"
    spanish.write_text(spanish.read_text().replace("    cta_later: Ahora no\n", "", 1))
    out = tmp_path / "qc"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "clarion.cli",
            "screenshots",
            "--catalog",
            str(catalog),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "messages/add_phone.yaml: channels[0]: alert field 'cta_later' has no es copy"
        in result.stderr
    )
    shots = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    # The alert on web, iOS and Android, its follow-up banner on the web only, in en,
    # pt and pt-BR: es lacks a CTA both show, so it is reported, not shot.
    alert = [
        f"add_phone/alert/{loc}/{p}.png"
        for loc in ("en", "pt", "pt-BR")
        for p in ("android", "ios", "web")
    ]
    follow = [f"add_phone/follow_up/{loc}/web.png" for loc in ("en", "pt", "pt-BR")]
    assert shots == sorted(alert + follow)
    assert all((out / s).read_bytes().startswith(PNG) for s in shots)
    gallery = (out / "index.html").read_text()
    assert "follow_up field 'cta_later' has no es copy" in result.stderr
    assert "2 missing string(s)" in gallery and 'src="add_phone/alert/pt-BR/ios.png"' in gallery
