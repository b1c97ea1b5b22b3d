"""The live catalog: loaded once at start (refusing an invalid one) and hot-reloaded.

Every process that uses the catalog keeps its own holder fresh with ``watch``:
the API processes (through ``Service.start``), ``clarion worker`` and the
worker children. A reload that fails keeps the last good catalog and logs every
issue.
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
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def reload_if_changed(self) -> bool:
        """Reload when any file changed; True when a new catalog went live."""
        with self._lock:
            seen = _fingerprint(self.root)
            if seen == self._seen:
                return False
            try:
                catalog = load_catalog(self.root)
            except CatalogError as exc:
                self._seen = seen  # the same files are not judged (and logged) again
                CATALOG_RELOADS.labels(result="rejected").inc()
                log.error(
                    "catalog_reload_rejected",
                    root=str(self.root),
                    issues=[str(i) for i in exc.issues],
                )
                return False
            self._seen = seen
            self.current = catalog
            CATALOG_RELOADS.labels(result="loaded").inc()
            CATALOG_MESSAGES.set(len(catalog.spec.messages))
            log.info("catalog_reloaded", root=str(self.root), messages=len(catalog.spec.messages))
            return True

    def watch(self, every: float) -> None:
        """Reload when changed every ``every`` seconds, in a thread of its own, until
        ``stop_watching`` (a second call while watching changes nothing)."""
        if self._watcher is not None:
            return
        self._stop.clear()
        self._watcher = threading.Thread(
            target=self._watch, args=(every,), name="clarion-catalog", daemon=True
        )
        self._watcher.start()

    def stop_watching(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout)
            self._watcher = None

    def _watch(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.reload_if_changed()
            except Exception:
                # E.g. a file removed while the folder was walked: the files are
                # looked at again next time; the watch itself must not end.
                log.exception("catalog_reload_failed", root=str(self.root))
