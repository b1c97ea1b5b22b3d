"""The composition root: builds store, catalog, providers, intake and workers from settings.

Nothing else constructs these; tests build a ``Service`` with their own clock,
store URL or providers.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from clarion.channels.base import Provider
from clarion.channels.email_tracking import EmailTracking
from clarion.channels.registry import ProviderContext, build_providers
from clarion.config import Settings
from clarion.inapp import DeviceAuthenticator, FeedbackSigner
from clarion.inapp.federated import FederatedCaller
from clarion.inapp.service import InAppService
from clarion.observability import get_logger
from clarion.runtime.catalog_holder import CatalogHolder
from clarion.runtime.clock import Clock, system_clock
from clarion.runtime.intake import Intake
from clarion.runtime.processes import WorkerProcesses
from clarion.runtime.workers import Workers
from clarion.store import migrate
from clarion.store.sql import SqlStore

log = get_logger("clarion.service")


class ConfigError(ValueError):
    """The configuration is inconsistent; the message says how."""


def random_feedback_key() -> tuple[str, bytes]:
    """A key for one start of the server: its id is random too, so after a restart the
    objects it signed are refused as ``unknown_key`` (not a misleading ``bad_signature``)."""
    return f"ephemeral-{secrets.token_hex(4)}", secrets.token_bytes(32)


def feedback_signer(settings: Settings, clock: Clock) -> FeedbackSigner:
    """The configured feedback keys, or a random one for this process (with a warning:
    outstanding feedback objects then stop verifying when the server restarts)."""
    keys = {kid: s.get_secret_value().encode() for kid, s in settings.feedback_keys.items()}
    if not keys:
        kid, secret = random_feedback_key()
        keys = {kid: secret}
        log.warning(
            "feedback_keys_random",
            kid=kid,
            effect="outstanding feedback objects are refused after a restart (unknown_key); "
            "set CLARION_FEEDBACK_KEYS",
        )
    active = settings.feedback_active_key or sorted(keys)[-1]
    try:
        return FeedbackSigner(keys, active, clock)
    except ValueError as exc:
        raise ConfigError(f"feedback keys: {exc}") from None


@dataclass
class Service:
    """Everything a running Clarion holds; ``start``/``stop`` run inside the API's loop."""

    settings: Settings
    clock: Clock = system_clock
    providers: Mapping[str, Provider] | None = None
    store: SqlStore = field(init=False)
    catalog: CatalogHolder = field(init=False)
    intake: Intake = field(init=False)
    inapp: InAppService = field(init=False)
    workers: Workers | WorkerProcesses | None = field(init=False, default=None)
    #: The workers ``run_until_idle`` runs when no worker threads were configured.
    _idle_workers: Workers | None = field(init=False, default=None)
    email_tracking: EmailTracking | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.catalog = CatalogHolder(self.settings.catalog)  # refuses an invalid catalog
        migrate(self.settings.database_url)
        self.store = SqlStore(
            self.settings.database_url,
            sqlite_synchronous=self.settings.sqlite_synchronous,
            timeouts=self.settings.database_timeouts(),
        )
        # Signs the open and click URLs of emails, and checks them when they come back.
        self.email_tracking = self.settings.email_tracking(self.clock)
        if self.providers is None:
            context = ProviderContext(tokens=self.store, links=self.email_tracking)
            self.providers = build_providers(self.settings.providers, context)
        unknown = {
            c.value: ", ".join(p for p in names if p not in self.providers)
            for c, names in self.settings.routes.items()
            if not set(names) <= self.providers.keys()
        }
        if unknown:
            configured = ", ".join(sorted(self.providers)) or "none"
            raise ConfigError(f"routes name unknown providers {unknown} (configured: {configured})")
        if self.settings.run_workers and self.settings.worker_processes > 0:
            self.workers = WorkerProcesses(self.settings, self.settings.worker_processes)
        elif self.settings.run_workers:
            self.workers = Workers(
                self.store, self.catalog, self.providers, self.settings, self.clock
            )
        wake = self.workers.wake if self.workers else lambda: None
        self.intake = Intake(self.store, self.clock, on_commit=wake)
        self.inapp = InAppService(
            self.store,
            lambda: self.catalog.current,
            feedback_signer(self.settings, self.clock),
            self.clock,
            max_alerts=self.settings.inapp_max_alerts,
            federated=FederatedCaller(self.settings.federated_actions),
        )

    def device_authenticator(self) -> DeviceAuthenticator | None:
        """Checks device tokens, or None when no device secret is configured."""
        secrets = self.settings.device_token_secrets
        if not secrets:
            return None
        return DeviceAuthenticator(
            {kid: s.get_secret_value().encode() for kid, s in secrets.items()},
            audience=self.settings.device_token_audience,
            clock=self.clock,
        )

    def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Run the workers' steps on this thread until nothing is left to do at the
        clock's time (``Workers.run_until_idle``); returns how many rounds did work.

        For a service built with ``run_workers=False``: tests act, run this, and
        assert, without polling threads. Refused while worker threads or processes run.
        """
        if self.settings.run_workers:
            raise RuntimeError("run_until_idle needs a service built with run_workers=False")
        if self._idle_workers is None:
            assert self.providers is not None  # set by __post_init__
            self._idle_workers = Workers(
                self.store, self.catalog, self.providers, self.settings, self.clock
            )
        return self._idle_workers.run_until_idle(max_rounds)

    async def start(self) -> None:
        # This process's catalog, whatever runs here: the API's (fetches,
        # reports) and the workers' in embedded mode; worker children keep their own.
        self.catalog.watch(self.settings.catalog_reload_seconds)
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
        for workers in (self.workers, self._idle_workers):
            if workers is not None:
                workers.stop()
        self.catalog.stop_watching()
        for provider in (self.providers or {}).values():
            await provider.aclose()
        self.store.close()
