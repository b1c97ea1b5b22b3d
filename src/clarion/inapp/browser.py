"""Launching the system Chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Final

#: The flags a container needs (no sandbox without user namespaces, no /dev/shm to
#: speak of, no GPU) and the ones that keep Chromium from calling home.
CHROMIUM_ARGS: Final = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)
_FALLBACK: Final = Path("/usr/bin/chromium")


def chromium_path() -> str | None:
    """The system Chromium (``chromium`` on the PATH, or /usr/bin/chromium), if any."""
    found = shutil.which("chromium")
    if found:
        return found
    return str(_FALLBACK) if _FALLBACK.is_file() and os.access(_FALLBACK, os.X_OK) else None
