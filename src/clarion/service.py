"""The composition root: builds store, catalog, providers, intake and workers from settings.

Nothing else constructs the store, providers and workers: the worker children of
``clarion serve`` build theirs with ``build_worker_process``, the simulator and
``clarion report`` with ``build_store`` and ``build_workers``
(tests/unit/test_composition_root.py checks it). Tests build a ``Service`` with
their own clock, store URL or providers.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from clarion.channels.base import Provider
from clarion.channels.email_tracking import EmailTracking
from clarion.channels.registry import ProviderContext, build_providers
from clarion.channels.routing import misrouted
from clarion.config import Settings
from clarion.inapp import DeviceAuthenticator, FeedbackSigner
from clarion.inapp.federated import FederatedCaller
from clarion.inapp.service import InAppService
from clarion.observability import get_logger
from clarion.runtime.catalog_holder import CatalogHolder
from clarion.runtime.clock import Clock, system_clock
from clarion.runtime.intake import Intake
from clarion.runtime.processes import WorkerProcesses
from clarion.runtime.workers import LiveCatalog, Signal, Workers
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


def build_store(settings: Settings) -> SqlStore:
    """The store of ``settings.database_url`` with the configured timeouts; it does not
    migrate (the service does, once, before anything opens it)."""
    return SqlStore(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        timeouts=settings.database_timeouts(),
    )


def build_provider_map(
    settings: Settings, store: SqlStore, links: EmailTracking | None
) -> dict[str, Provider]:
    """The configured providers, keeping push tokens in ``store`` and signing email links."""
    return build_providers(settings.providers, ProviderContext(tokens=store, links=links))


def build_workers(
    settings: Settings,
    store: SqlStore,
    catalog: LiveCatalog,
    providers: Mapping[str, Provider],
    clock: Clock,
    wake: Signal | None = None,
    messages: Signal | None = None,
    *,
    orchestrate: bool = True,
    dispatch: bool = True,
) -> Workers:
    """The orchestrator, escalator and dispatcher over ``store``, configured by ``settings``."""
    return Workers(
        store,
        catalog,
        providers,
        settings,
        clock,
        wake,
        messages,
        orchestrate=orchestrate,
        dispatch=dispatch,
    )


@dataclass
class WorkerProcess:
    """What a worker child of ``clarion serve`` holds: its own store, catalog, providers
    and workers, built as the API process builds its own."""

    settings: Settings
    store: SqlStore
    catalog: CatalogHolder
    providers: Mapping[str, Provider]
    workers: Workers

    def start(self) -> None:
        self.catalog.watch(self.settings.catalog_reload_seconds)
        self.workers.start()

    def stop(self) -> None:
        self.workers.stop()
        self.catalog.stop_watching()
        asyncio.run(_close(self.providers))
        self.store.close()


def build_worker_process(
    settings: Settings, wake: Signal, messages: Signal, roles: tuple[bool, bool]
) -> WorkerProcess:
    """A worker child's parts (``runtime.processes`` calls this in the child); ``roles`` is
    (orchestrate, dispatch). The parent migrated the database before starting it."""
    store = build_store(settings)
    providers = build_provider_map(settings, store, settings.email_tracking(system_clock))
    catalog = CatalogHolder(settings.catalog)
    orchestrate, dispatch = roles
    workers = build_workers(
        settings,
        store,
        catalog,
        providers,
        system_clock,
        wake,
        messages,
        orchestrate=orchestrate,
        dispatch=dispatch,
    )
    return WorkerProcess(settings, store, catalog, providers, workers)


async def _close(providers: Mapping[str, Provider]) -> None:
    for provider in providers.values():
        await provider.aclose()


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
        self.store = build_store(self.settings)
        # Signs the open and click URLs of emails, and checks them when they come back.
        self.email_tracking = self.settings.email_tracking(self.clock)
        if self.providers is None:
            self.providers = build_provider_map(self.settings, self.store, self.email_tracking)
        unknown = {
            c.value: ", ".join(p for p in names if p not in self.providers)
            for c, names in self.settings.routes.items()
            if not set(names) <= self.providers.keys()
        }
        if unknown:
            configured = ", ".join(sorted(self.providers)) or "none"
            raise ConfigError(f"routes name unknown providers {unknown} (configured: {configured})")
        wrong = misrouted(self.settings.routes, self.catalog.current.spec, self.providers)
        if wrong:
            raise ConfigError("; ".join(wrong))
        if self.settings.run_workers and self.settings.worker_processes > 0:
            self.workers = WorkerProcesses(
                self.settings, self.settings.worker_processes, build_worker_process
            )
        elif self.settings.run_workers:
            self.workers = build_workers(
                self.settings, self.store, self.catalog, self.providers, self.clock
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
