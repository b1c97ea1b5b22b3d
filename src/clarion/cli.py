"""The ``clarion`` command: serve, worker, migrate, catalog check."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from clarion.catalog import CatalogError, check_catalog
from clarion.config import Settings
from clarion.experiments.commands import report, simulate
from clarion.observability import configure_logging

if TYPE_CHECKING:
    from clarion.service import Service


def _service(settings: Settings) -> Service:
    """Build the service, or exit with every reason it cannot start."""
    from clarion.service import ConfigError, Service

    try:
        return Service(settings)
    except CatalogError as exc:
        click.echo(f"refusing to start: the catalog has {len(exc.issues)} error(s):", err=True)
        for issue in exc.issues:
            click.echo(f"  {issue}", err=True)
    except ConfigError as exc:
        click.echo(f"refusing to start: {exc}", err=True)
    sys.exit(2)


@click.group()
def main() -> None:
    """Clarion: messaging orchestration."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (CLARION_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (CLARION_PORT).")
@click.option("--workers/--no-workers", default=None, help="Run the workers in this process.")
@click.option(
    "--worker-processes",
    type=click.IntRange(min=0),
    default=None,
    help="Run the workers in N child processes instead (CLARION_WORKER_PROCESSES).",
)
@click.option(
    "--api-processes",
    type=click.IntRange(min=1, max=64),
    default=None,
    help="Serve the API from N processes sharing the port (CLARION_API_PROCESSES).",
)
def serve(
    host: str | None,
    port: int | None,
    workers: bool | None,
    worker_processes: int | None,
    api_processes: int | None,
) -> None:
    """Run the API (and, by default, every worker) in one process."""
    from clarion.api.app import asgi_app
    from clarion.runtime.allocator import cap_malloc_arenas
    from clarion.runtime.workers import share_interpreter_fairly

    cap_malloc_arenas()  # before any thread starts: see the module

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if workers is not None:
        overrides["run_workers"] = workers
    if worker_processes is not None:
        overrides["worker_processes"] = worker_processes
    if api_processes is not None:
        overrides["api_processes"] = api_processes
    settings = _shared_feedback_key(Settings(**overrides))  # type: ignore[arg-type]
    configure_logging(settings.log_level, settings.log_json)
    share_interpreter_fairly()
    service = _service(settings)
    _run_api(asgi_app(service), settings)


def _shared_feedback_key(settings: Settings) -> Settings:
    """With several API processes and no feedback key configured, one random key for
    all of them (each would make its own, and refuse the others' feedback objects)."""
    if settings.api_processes == 1 or settings.feedback_keys:
        return settings
    from pydantic import SecretStr

    from clarion.service import random_feedback_key
    from clarion.signing import b64url

    kid, secret = random_feedback_key()
    click.echo(
        "warning: no CLARION_FEEDBACK_KEYS: a random key until restart "
        "(outstanding in-app feedback is then refused as unknown_key)",
        err=True,
    )
    key = SecretStr(b64url(secret))
    return settings.model_copy(update={"feedback_keys": {kid: key}})


def _run_api(app: object, settings: Settings) -> None:
    """uvicorn in this process, beside ``api_processes - 1`` children on the same port."""
    import uvicorn

    from clarion.api.processes import ApiProcesses, listening_socket, uvicorn_options

    options = uvicorn_options(settings)
    if settings.api_processes == 1:
        uvicorn.run(app, host=settings.host, port=settings.port, **options)  # type: ignore[arg-type]
        return
    if settings.port == 0:
        click.echo("refusing to start: several API processes need a fixed port", err=True)
        sys.exit(2)
    sock = listening_socket(settings.host, settings.port)
    children = ApiProcesses(settings, settings.api_processes - 1)
    children.start()
    try:
        uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])  # type: ignore[arg-type]
    finally:
        children.stop()


@main.command()
def worker() -> None:
    """Run only the workers (distributed mode: several processes on PostgreSQL)."""
    from clarion.runtime.allocator import cap_malloc_arenas
    from clarion.runtime.workers import share_interpreter_fairly

    cap_malloc_arenas()  # before any thread starts: see the module

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    share_interpreter_fairly()
    service = _service(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await service.start()
        await stop.wait()
        await service.stop()

    asyncio.run(run())


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema (CLARION_DATABASE_URL)."""
    from clarion.store import migrate as run_migrations

    settings = Settings()
    run_migrations(settings.database_url)
    click.echo(f"migrated {settings.database_url.split('@')[-1]}")


@main.command("device-token")
@click.argument("profile_id")
@click.option("--hours", type=float, default=12.0, show_default=True, help="Lifetime of the token.")
@click.option("--kid", default="default", show_default=True, help="Which device secret signs it.")
def device_token(profile_id: str, hours: float, kid: str) -> None:
    """Issue a device token for PROFILE_ID, as your backend would (for development)."""
    from datetime import timedelta

    from clarion.inapp import issue_device_token

    secret = Settings().device_token_secrets.get(kid)
    if secret is None:
        click.echo(f"no device secret '{kid}' in CLARION_DEVICE_TOKEN_SECRETS", err=True)
        sys.exit(1)
    token = issue_device_token(
        secret.get_secret_value().encode(),
        profile_id,
        timedelta(hours=hours),
        kid=None if kid == "default" else kid,
    )
    click.echo(token)


@main.command()
@click.option(
    "--catalog",
    "root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("catalog"),
    show_default=True,
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
def screenshots(root: Path, out: Path) -> None:
    """Shoot every in-app message in every locale on every platform (localization QC).

    Writes PNG files and OUT/index.html; a missing string is an error (exit 1)."""
    from clarion.catalog import load_catalog
    from clarion.inapp.screenshots import take

    try:
        catalog = load_catalog(root)
    except CatalogError as exc:
        for issue in exc.issues:
            click.echo(str(issue), err=True)
        sys.exit(2)
    try:
        report = take(catalog, out)
    except (ImportError, RuntimeError) as exc:
        click.echo(f"cannot take screenshots: {exc} (pip install 'clarion[screenshots]')", err=True)
        sys.exit(2)
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(f"{len(report.shots)} screenshots in {out / 'index.html'}")
    if report.errors:
        sys.exit(1)


@main.group()
def catalog() -> None:
    """Work with message catalogs."""


@catalog.command("check")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def catalog_check(directory: Path) -> None:
    """Validate a catalog; print every error with its file and key."""
    issues = check_catalog(directory)
    for issue in issues:
        click.echo(str(issue))
    if issues:
        click.echo(f"{len(issues)} error(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {directory}")


main.add_command(report)
main.add_command(simulate)

if __name__ == "__main__":
    main()
