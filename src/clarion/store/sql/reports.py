"""What incrementality reports read: per profile, its decisions and conversions.

The database aggregates exposures to one row per (message, group, arm, profile),
so a report moves one row per profile, not one per decision; the statistics
(``clarion.experiments.stats``) need exactly these per-profile counts because a
profile is the unit of randomization (its decisions are not independent).

A decision is a message occurrence: the distinct triggering events of the
profile (one message sent on three channels is one decision). Per channel, it
is the occurrences on that channel.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.store.records import Breakdown, Grouped, ReportFilter
from clarion.store.schema import conversions, exposures
from clarion.store.sql.convert import ts
from clarion.store.sql.dialects import dialect_of

_WEEK_S = 7 * 86400
#: 1970-01-05, the first Monday of the epoch: weeks start on Monday 00:00 UTC.
_MONDAY = 4 * 86400
_EPOCH = date(1970, 1, 5)


def week_start(index: int) -> str:
    """The Monday (ISO date) that starts week number ``index`` since the epoch."""
    return (_EPOCH + timedelta(weeks=index)).isoformat()


def _group(conn: Connection, by: Breakdown) -> sa.ColumnElement[object] | None:
    x = exposures.c
    if by == "channel":
        return x.channel
    if by == "cell":
        return x.ab_test_cell
    if by == "week":
        weeks = (x.created_at - _MONDAY) / _WEEK_S
        return dialect_of(conn).floor(weeks)  # the epoch-based value is positive
    return None


def _where(flt: ReportFilter) -> list[sa.ColumnElement[bool]]:
    """The conditions on exposures that ``flt`` makes."""
    x = exposures.c
    found: list[sa.ColumnElement[bool]] = []
    if flt.message is not None:
        found.append(x.message == flt.message)
    if flt.since is not None:
        found.append(x.created_at >= ts(flt.since))
    if flt.until is not None:
        found.append(x.created_at < ts(flt.until))
    return found


def planned_holdouts(conn: Connection, flt: ReportFilter) -> dict[str, dict[float | None, int]]:
    """Per message: how many profiles were decided under each held-out share (``None``:
    not recorded, rows written before the share was kept)."""
    x = exposures.c
    profiles = sa.func.count(sa.distinct(x.profile_id))
    query = (
        sa.select(x.message, x.holdout, profiles).where(*_where(flt)).group_by(x.message, x.holdout)
    )
    out: dict[str, dict[float | None, int]] = defaultdict(dict)
    for message, share, n in conn.execute(query):
        out[message][None if share is None else float(share)] = int(n)
    return dict(out)


def profile_counts(conn: Connection, flt: ReportFilter, by: Breakdown) -> Grouped:
    """Each profile's decisions and conversions, by message, ``by`` group and arm."""
    x, c = exposures.c, conversions.c
    group = _group(conn, by)
    group_col = (group if group is not None else sa.literal(None)).label("grp")
    decisions = sa.func.count(sa.distinct(x.event_id))
    converted = sa.func.count(sa.distinct(sa.case((c.guid.is_not(None), x.event_id))))
    keys = [x.message, x.arm, x.profile_id] + ([group] if group is not None else [])
    query = (
        sa.select(x.message, group_col, x.arm, x.profile_id, decisions, converted)
        .select_from(exposures.outerjoin(conversions, c.guid == x.guid))
        .where(*_where(flt))
        .group_by(*keys)
    )
    out: Grouped = defaultdict(dict)
    for message, grp, arm, profile_id, n, k in conn.execute(query):
        key = week_start(int(grp)) if by == "week" else grp
        out[message, key, arm][profile_id] = (int(n), int(k))
    return dict(out)
