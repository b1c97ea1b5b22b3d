"""The composition root: builds store, catalog, providers, intake and workers from settings.

Nothing else constructs these; tests build a ``Service`` with their own clock,
store URL or providers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from clarion.channels.base import Provider
from clarion.channels.registry import build_providers
from clarion.config import Settings
from clarion.observability import get_logger
from clarion.runtime.catalog_holder import CatalogHolder
from clarion.runtime.clock import Clock, system_clock
from clarion.runtime.intake import Intake
from clarion.runtime.workers import Workers
from clarion.store import migrate
from clarion.store.sql import SqlStore

log = get_logger("clarion.service")


class ConfigError(ValueError):
    """The configuration is inconsistent; the message says how."""


@dataclass
class Service:
    """Everything a running Clarion holds; ``start``/``stop`` run inside the API's loop."""

    settings: Settings
    clock: Clock = system_clock
    providers: Mapping[str, Provider] | None = None
    store: SqlStore = field(init=False)
    catalog: CatalogHolder = field(init=False)
    intake: Intake = field(init=False)
    workers: Workers | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.catalog = CatalogHolder(self.settings.catalog)  # refuses an invalid catalog
        migrate(self.settings.database_url)
        self.store = SqlStore(
            self.settings.database_url, sqlite_synchronous=self.settings.sqlite_synchronous
        )
        if self.providers is None:
            self.providers = build_providers(self.settings.providers)
        unknown = {c.value: p for c, p in self.settings.routes.items() if p not in self.providers}
        if unknown:
            configured = ", ".join(sorted(self.providers)) or "none"
            raise ConfigError(f"routes name unknown providers {unknown} (configured: {configured})")
        if self.settings.run_workers:
            self.workers = Workers(
                self.store, self.catalog, self.providers, self.settings, self.clock
            )
        wake = self.workers.wake if self.workers else lambda: None
        self.intake = Intake(self.store, self.clock, on_commit=wake)

    async def start(self) -> None:
        await self.intake.start()
        if self.workers is not None:
            self.workers.start()
        log.info(
            "clarion_started",
            database=self.store.dialect,
            catalog=str(self.settings.catalog),
            messages=len(self.catalog.current.spec.messages),
            workers=self.workers is not None,
        )

    async def stop(self) -> None:
        await self.intake.stop()
        if self.workers is not None:
            self.workers.stop()
        for provider in (self.providers or {}).values():
            await provider.aclose()
        self.store.close()
