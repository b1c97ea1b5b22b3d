"""The live catalog: loaded once at start (refusing an invalid one) and hot-reloaded.

A reload that fails keeps the last good catalog and logs every issue.
"""

from __future__ import annotations

import threading
from pathlib import Path

from clarion.catalog import Catalog, CatalogError, load_catalog
from clarion.observability import CATALOG_MESSAGES, CATALOG_RELOADS, get_logger

log = get_logger("clarion.catalog")


def _fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of every catalog file: cheap change detection."""
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return tuple((str(p), s.st_size, s.st_mtime_ns) for p in files for s in (p.stat(),))


class CatalogHolder:
    """Holds the current catalog; ``current`` is a plain attribute read, safe across threads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._seen = _fingerprint(root)
        self.current: Catalog = load_catalog(root)  # raises CatalogError: refuse to start
        CATALOG_MESSAGES.set(len(self.current.spec.messages))

    def reload_if_changed(self) -> bool:
        """Reload when any file changed; True when a new catalog went live."""
        with self._lock:
            seen = _fingerprint(self.root)
            if seen == self._seen:
                return False
            self._seen = seen
            try:
                catalog = load_catalog(self.root)
            except CatalogError as exc:
                CATALOG_RELOADS.labels(result="rejected").inc()
                log.error(
                    "catalog_reload_rejected",
                    root=str(self.root),
                    issues=[str(i) for i in exc.issues],
                )
                return False
            self.current = catalog
            CATALOG_RELOADS.labels(result="loaded").inc()
            CATALOG_MESSAGES.set(len(catalog.spec.messages))
            log.info("catalog_reloaded", root=str(self.root), messages=len(catalog.spec.messages))
            return True
