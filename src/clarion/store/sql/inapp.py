"""In-app reads: the live alerts of a profile (with their state, event and profile), a
message by guid. The writes (feedback, dismissals, read state) are in ``inapp_writes``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from clarion.core.model import Event, Profile
from clarion.store.records import InAppState, InAppView, LiveInApp, MessageRecord
from clarion.store.schema import (
    LIVE_INAPP_CHANNEL,
    LIVE_INAPP_STATUSES,
    events,
    inapp_state,
    messages,
    profiles,
    suppressions,
)
from clarion.store.sql.convert import MESSAGE_COLUMNS, dt, message_of, opt_dt
from clarion.store.sql.dialects import SqlDialect

_STATE = (
    inapp_state.c.impressions,
    inapp_state.c.last_seen_at,
    inapp_state.c.acted_at,
    inapp_state.c.action,
    inapp_state.c.read_at,
    inapp_state.c.archived_at,
)


def _literal(value: str) -> sa.ColumnElement[str]:
    return sa.literal_column(f"'{value}'", sa.String)


def _live_query() -> sa.Select[Any]:
    """The live, unexpired in-app messages of ``:profile_id``, newest first, each with
    its state, its event, whether a dismissal of its message is in force, and the
    profile's own fields (the same on every row; NULL without a profile row).

    One statement for the whole fetch (a device fetch used to cost three queries
    for the profile, one for dismissals and this one). Built once: constructing
    a statement of this size costs several times what SQLite takes to run it.
    Channel and statuses are SQL literals, the predicate of
    ``ix_messages_inapp_live``, so both planners can use that partial index;
    everything else is a parameter.
    """
    m, e, s, p = messages.c, events.c, suppressions.c, profiles.c
    now: sa.BindParameter[float] = sa.bindparam("now")
    dismissed = (
        sa.select(s.until)
        .where(s.profile_id == m.profile_id, s.message == m.message, s.until > now)
        .scalar_subquery()
    )
    return (
        sa.select(
            *MESSAGE_COLUMNS,
            *_STATE,
            e.type,
            e.occurred_at,
            e.payload,
            e.account_id,
            dismissed,
            *_PROFILE,
        )
        .select_from(
            messages.join(events, e.id == m.event_id)
            .outerjoin(inapp_state, inapp_state.c.guid == m.guid)
            .outerjoin(profiles, p.id == m.profile_id)
        )
        .where(
            m.profile_id == sa.bindparam("profile_id"),
            m.channel == _literal(LIVE_INAPP_CHANNEL),
            m.status.in_([_literal(status) for status in LIVE_INAPP_STATUSES]),
            sa.or_(m.expires_at.is_(None), m.expires_at > now),
        )
        .order_by(m.created_at.desc(), m.guid.desc())
        .limit(sa.bindparam("limit"))
    )


#: The profile's fields that templates see (``clarion.catalog.context``).
_PROFILE = (
    profiles.c.id,
    profiles.c.locale,
    profiles.c.timezone,
    profiles.c.country,
    profiles.c.account_id,
    profiles.c.attributes,
)
_LIVE = _live_query()
_WIDTH = len(MESSAGE_COLUMNS)
_DEVICES = MESSAGE_COLUMNS.index(messages.c.devices)
#: Where the state, event, dismissal and profile columns start in a row of ``_LIVE``.
_EVENT = _WIDTH + len(_STATE)
_DISMISSED = _EVENT + 4
_PROFILE_AT = _DISMISSED + 1

#: A prebuilt SELECT compiled for one dialect: its SQL, the order of its
#: positional parameters (None: named), and the values of its fixed parameters.
_Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any]]
_compiled: dict[tuple[int, str], _Compiled] = {}
#: The store's dialect, and SQLAlchemy's of its engine (which compiles the SELECTs).
Reads = tuple[SqlDialect, Dialect]


def _driver_rows(
    reads: Reads, driver: Any, statement: sa.Select[Any], params: dict[str, Any]
) -> list[Sequence[Any]]:
    """The rows of a prebuilt SELECT, run on a pooled connection's ``driver``
    connection (``SqlStore`` checks it out of the pool without a SQLAlchemy
    ``Connection`` around it, whose checkout costs as much again).

    For the reads of every device fetch: SQLAlchemy's execution (context, events,
    result metadata, and on SQLite the ``BEGIN`` the reader issues and the
    rollback that ends it) costs about twice what the database takes to answer
    (measured: 310 us against 100 us for the live query on SQLite).
    One statement needs no transaction around it (``SqlDialect.fetch``). Values
    come back as the driver gives them (``SqlDialect.json_value``).
    """
    dialect, compiler = reads
    key = (id(statement), dialect.name)
    compiled = _compiled.get(key)
    if compiled is None:
        made = statement.compile(dialect=compiler)
        fixed = dict(made.construct_params(dict.fromkeys(params), _check=False))
        order = tuple(made.positiontup) if made.positiontup is not None else None
        compiled = (made.string, order, fixed)
        _compiled[key] = compiled
    sql, order, fixed = compiled
    values = {**fixed, **params}
    return dialect.fetch(driver, sql, values if order is None else tuple(values[n] for n in order))


_MESSAGE = sa.select(*MESSAGE_COLUMNS).where(messages.c.guid == sa.bindparam("guid"))


def message_by_guid(reads: Reads, driver: Any, guid: str) -> MessageRecord | None:
    """One message, read like ``inapp_view`` (every feedback post reads its message)."""
    rows = _driver_rows(reads, driver, _MESSAGE, {"guid": guid})
    if not rows:
        return None
    columns = list(rows[0])
    columns[_DEVICES] = reads[0].json_value(columns[_DEVICES])
    return message_of(columns)


def inapp_view(reads: Reads, driver: Any, profile_id: str, now: float, limit: int) -> InAppView:
    """The profile's live, unexpired in-app messages (newest first), the messages it
    dismissed, and its fields: one statement."""
    json_value = reads[0].json_value
    params = {"profile_id": profile_id, "now": now, "limit": limit}
    rows = _driver_rows(reads, driver, _LIVE, params)
    if not rows:
        return InAppView((), frozenset(), None)
    found = []
    suppressed = set()
    for row in rows:
        columns = list(row[:_WIDTH])
        impressions, seen, acted, action, read, archived = row[_WIDTH:_EVENT]
        etype, occurred, payload, account = row[_EVENT:_DISMISSED]
        columns[_DEVICES] = json_value(columns[_DEVICES])
        payload = json_value(payload)
        state = InAppState(
            impressions or 0, opt_dt(seen), opt_dt(acted), action, opt_dt(read), opt_dt(archived)
        )
        message = message_of(columns)  # positional reader: the message columns only
        if row[_DISMISSED] is not None:
            suppressed.add(message.message)
        event = Event(message.event_id, etype, profile_id, dt(occurred), payload, account)
        found.append(LiveInApp(message, state, event))
    return InAppView(tuple(found), frozenset(suppressed), _profile(rows[0], json_value))


def _profile(row: Sequence[Any], json_value: Callable[[Any], Any]) -> Profile | None:
    """The profile's fields from the profile columns of a row of ``_LIVE``."""
    pid, locale, timezone, country, account, attributes = row[_PROFILE_AT:]
    if pid is None:
        return None
    return Profile(
        id=pid,
        locale=locale,
        timezone=timezone,
        country=country,
        account_id=account,
        attributes=json_value(attributes),
    )
