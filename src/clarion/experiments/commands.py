"""``clarion report`` and ``clarion simulate``.

Heavy imports (the store, the statistics) happen inside the commands, so other
``clarion`` commands do not pay for them.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from clarion.observability import configure_logging

_CATALOG = click.Path(file_okay=False, exists=True, path_type=Path)


def _moment(_: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """An ISO-8601 time; one without a zone is UTC (``2026-03-02``, ``2026-03-02T08:00+01:00``)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO-8601 time such as 2026-03-02T00:00:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@click.command()
@click.option("--message", default=None, help="Only this message.")
@click.option("--since", callback=_moment, help="Decided at or after (ISO; UTC without a zone).")
@click.option("--until", callback=_moment, help="Decided before (ISO; UTC without a zone).")
@click.option(
    "--alpha", type=click.FloatRange(0, 0.5, min_open=True), default=0.05, show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (the API's body).")
def report(
    message: str | None,
    since: datetime | None,
    until: datetime | None,
    alpha: float,
    as_json: bool,
) -> None:
    """Incrementality of every measured message (CLARION_DATABASE_URL, CLARION_CATALOG)."""
    from sqlalchemy.exc import DBAPIError

    from clarion.catalog import CatalogError, load_catalog
    from clarion.config import Settings
    from clarion.experiments.report import ReportRequest, incrementality
    from clarion.experiments.table import render_table
    from clarion.service import build_store
    from clarion.store.records import ReportFilter

    settings = Settings()
    configure_logging("WARNING", settings.log_json)
    if since is not None and until is not None and until <= since:
        raise click.BadParameter("must be later than --since", param_hint="--until")
    flt = ReportFilter(message, since, until)
    try:
        catalog = load_catalog(settings.catalog)
    except CatalogError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    try:
        store = build_store(settings)
        try:
            store.ping()  # an unreachable database fails here, before any statistics
            body = incrementality(store, catalog.spec, ReportRequest(flt, alpha))
        finally:
            store.close()
    except DBAPIError as exc:
        click.echo(
            f"cannot read the database (did you run 'clarion migrate'?): {exc.orig}", err=True
        )
        sys.exit(2)
    click.echo(json.dumps(body, indent=2) if as_json else render_table(body))


@click.command()
@click.option(
    "--scenario",
    "scenario_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A scenario YAML file (see docs/experiments.md).",
)
@click.option(
    "--message",
    default="continue_watching",
    show_default=True,
    help="Without --scenario: the message to simulate.",
)
@click.option(
    "--base",
    type=float,
    default=0.20,
    show_default=True,
    help="Conversion rate without the message.",
)
@click.option(
    "--lift", type=float, default=0.05, show_default=True, help="What receiving the message adds."
)
@click.option(
    "--holdout",
    type=float,
    default=None,
    help="Held-out share for the run (default: the catalog's).",
)
@click.option(
    "--profiles", type=click.IntRange(min=1), default=None, help="Population size (default 2000)."
)
@click.option(
    "--rounds", type=click.IntRange(min=1), default=None, help="Decisions per profile (default 1)."
)
@click.option("--seed", type=int, default=None)
@click.option("--catalog", "root", type=_CATALOG, default=Path("catalog"), show_default=True)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/simulation"),
    show_default=True,
    help="Keep the run's database and sink here (a previous run's are replaced).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report and the truth as JSON.")
def simulate(
    scenario_file: Path | None,
    message: str,
    base: float,
    lift: float,
    holdout: float | None,
    profiles: int | None,
    rounds: int | None,
    seed: int | None,
    root: Path,
    workdir: Path,
    as_json: bool,
) -> None:
    """Simulate a population with a known effect through the real pipeline, then report."""
    from clarion.catalog import CatalogError, load_catalog
    from clarion.catalog.yamlio import YAMLError, load_yaml
    from clarion.experiments.scenario import read_scenario
    from clarion.experiments.simulate import simulate as run
    from clarion.experiments.table import render_table, render_truth

    configure_logging("WARNING", False)
    truth: dict[str, object] = {"base": base, "lift": lift}
    if holdout is not None:
        truth["holdout"] = holdout
    data: dict[str, object] = {"messages": {message: truth}}
    try:
        if scenario_file is not None:
            loaded = load_yaml(scenario_file)
            data = dict(loaded) if isinstance(loaded, dict) else {"messages": None}
        for key, value in (("profiles", profiles), ("rounds", rounds), ("seed", seed)):
            if value is not None:
                data[key] = value
        scenario = read_scenario(data)
        catalog = load_catalog(root)
    except (ValueError, YAMLError, CatalogError) as exc:
        click.echo(f"invalid scenario: {exc}", err=True)
        sys.exit(2)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = run(scenario, catalog, workdir)
    except ValueError as exc:
        click.echo(f"invalid scenario: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps({"report": result.report, "truth": result.truth}, indent=2))
        return
    click.echo(render_table(result.report))
    click.echo("")
    click.echo(render_truth(result.truth, result.report))
    click.echo("")
    # The run stays readable: `clarion report` on it gives the same table.
    click.echo(f"report on this run again: CLARION_DATABASE_URL={result.database} clarion report")
