"""In-app reads and writes: live alerts of a profile, feedback, dismissals, read state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect

from clarion.core import reasons
from clarion.core.model import Channel, Event, Profile, Status
from clarion.store.records import InAppState, InAppView, LiveInApp, MessageRecord, Suppression
from clarion.store.schema import (
    LIVE_INAPP_CHANNEL,
    LIVE_INAPP_STATUSES,
    events,
    inapp_state,
    lifecycle,
    messages,
    profiles,
    suppressions,
)
from clarion.store.sql.convert import MESSAGE_COLUMNS, dt, lifecycle_row, message_of, opt_dt, ts
from clarion.store.sql.engine import Insert, insert

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


def _driver_rows(
    dialect: Dialect, driver: Any, statement: sa.Select[Any], params: dict[str, Any]
) -> list[Sequence[Any]]:
    """The rows of a prebuilt SELECT, run on a pooled connection's ``driver``
    connection (``SqlStore`` checks it out of the pool without a SQLAlchemy
    ``Connection`` around it, whose checkout costs as much again).

    For the reads of every device fetch: SQLAlchemy's execution (context, events,
    result metadata, and on SQLite the ``BEGIN`` the reader issues and the
    rollback that ends it) costs about twice what the database takes to answer
    (measured: 310 us against 100 us for the live query on SQLite).
    One statement needs no transaction around it: it reads one snapshot either
    way. Values come back as the driver gives them: JSON is text on SQLite and
    already decoded on PostgreSQL (psycopg uses the engine's ``json_deserializer``).
    """
    key = (id(statement), dialect.name)
    compiled = _compiled.get(key)
    if compiled is None:
        made = statement.compile(dialect=dialect)
        fixed = dict(made.construct_params(dict.fromkeys(params), _check=False))
        order = tuple(made.positiontup) if made.positiontup is not None else None
        compiled = (made.string, order, fixed)
        _compiled[key] = compiled
    sql, order, fixed = compiled
    values = {**fixed, **params}
    # psycopg would open a transaction for the SELECT (BEGIN), and the pool end it
    # (ROLLBACK, a round trip of its own): in autocommit the statement is its own.
    autocommit = dialect.name == "postgresql" and not driver.autocommit
    if autocommit:
        driver.autocommit = True
    cursor = driver.cursor()
    try:
        cursor.execute(sql, values if order is None else tuple(values[name] for name in order))
        rows: list[Sequence[Any]] = cursor.fetchall()
    finally:
        cursor.close()
        if autocommit:
            driver.autocommit = False
    return rows


_MESSAGE = sa.select(*MESSAGE_COLUMNS).where(messages.c.guid == sa.bindparam("guid"))


def message_by_guid(dialect: Dialect, driver: Any, guid: str) -> MessageRecord | None:
    """One message, read like ``inapp_view`` (every feedback post reads its message)."""
    rows = _driver_rows(dialect, driver, _MESSAGE, {"guid": guid})
    if not rows:
        return None
    columns = list(rows[0])
    if dialect.name == "sqlite":
        columns[_DEVICES] = orjson.loads(columns[_DEVICES])
    return message_of(columns)


def inapp_view(dialect: Dialect, driver: Any, profile_id: str, now: float, limit: int) -> InAppView:
    """The profile's live, unexpired in-app messages (newest first), the messages it
    dismissed, and its fields: one statement."""
    text_json = dialect.name == "sqlite"
    params = {"profile_id": profile_id, "now": now, "limit": limit}
    rows = _driver_rows(dialect, driver, _LIVE, params)
    if not rows:
        return InAppView((), frozenset(), None)
    found = []
    suppressed = set()
    for row in rows:
        columns = list(row[:_WIDTH])
        impressions, seen, acted, action, read, archived = row[_WIDTH:_EVENT]
        etype, occurred, payload, account = row[_EVENT:_DISMISSED]
        if text_json:
            columns[_DEVICES] = orjson.loads(columns[_DEVICES])
            payload = orjson.loads(payload)
        state = InAppState(
            impressions or 0, opt_dt(seen), opt_dt(acted), action, opt_dt(read), opt_dt(archived)
        )
        message = message_of(columns)  # positional reader: the message columns only
        if row[_DISMISSED] is not None:
            suppressed.add(message.message)
        event = Event(message.event_id, etype, profile_id, dt(occurred), payload, account)
        found.append(LiveInApp(message, state, event))
    return InAppView(tuple(found), frozenset(suppressed), _profile(rows[0], text_json))


def _profile(row: Sequence[Any], text_json: bool) -> Profile | None:
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
        attributes=orjson.loads(attributes) if text_json else attributes,
    )


def _upserts(make: Callable[[sa.Table], Insert]) -> tuple[Insert, Insert]:
    """The in-app state upserts of an impression and of a CTA, in one dialect's INSERT."""
    c = inapp_state.c
    now: sa.BindParameter[float] = sa.bindparam("now")
    key: dict[str, sa.BindParameter[str]] = {
        "guid": sa.bindparam("guid"),
        "profile_id": sa.bindparam("profile_id"),
    }
    impression = (
        make(inapp_state)
        .values(**key, impressions=1, first_seen_at=now, last_seen_at=now)
        .on_conflict_do_update(
            index_elements=[c.guid], set_={"impressions": c.impressions + 1, "last_seen_at": now}
        )
    )
    action: sa.BindParameter[str] = sa.bindparam("action")
    cta = (
        make(inapp_state)
        .values(**key, impressions=0, acted_at=now, action=action)
        .on_conflict_do_update(index_elements=[c.guid], set_={"acted_at": now, "action": action})
    )
    return impression, cta


# Built once per dialect, like ``_LIVE``: feedback writes run under SQLite's one
# writer at a time, so building statements there would cost every writer.
_UPSERTS = {"sqlite": _upserts(sqlite.insert), "postgresql": _upserts(postgresql.insert)}
_DELIVERED = (
    sa.update(messages)
    .where(messages.c.guid == sa.bindparam("message_guid"), messages.c.status == Status.SENT.value)
    .values(status=Status.DELIVERED.value, updated_at=sa.bindparam("now"))
)
_LIFECYCLE = sa.insert(lifecycle)


def record_impression(
    conn: Connection, message: MessageRecord, now: float, detail: dict[str, object]
) -> None:
    upsert, _ = _UPSERTS[conn.dialect.name]
    conn.execute(upsert, {"guid": message.guid, "profile_id": message.profile_id, "now": now})
    # The first impression on any device is the delivery of an in-app message.
    first = conn.execute(_DELIVERED, {"message_guid": message.guid, "now": now}).rowcount
    status = Status.DELIVERED if first else message.status
    row = lifecycle_row(message.guid, now, status, "impression", detail)
    conn.execute(_LIFECYCLE, [row])


def record_action(
    conn: Connection, message: MessageRecord, action: str, now: float, detail: dict[str, object]
) -> None:
    _, upsert = _UPSERTS[conn.dialect.name]
    values = {"guid": message.guid, "profile_id": message.profile_id, "now": now, "action": action}
    conn.execute(upsert, values)
    row = lifecycle_row(message.guid, now, message.status, f"cta:{action}", detail)
    conn.execute(_LIFECYCLE, [row])


def suppress(conn: Connection, profile_id: str, rule: Suppression, now: float) -> list[str]:
    """Store a dismissal; with ``all_channels`` also cancel the message's pending sends.

    Returns the guids it cancelled."""
    s = suppressions.c
    values = {
        "until": ts(rule.until),
        "reason": rule.reason,
        "all_channels": rule.all_channels,
    }
    conn.execute(
        insert(conn, suppressions)
        .values(profile_id=profile_id, message=rule.message, **values)
        .on_conflict_do_update(index_elements=[s.profile_id, s.message], set_=values)
    )
    if not rule.all_channels:
        return []
    m = messages.c
    reason = reasons.suppressed(rule.reason)
    cancelled = [
        guid
        for (guid,) in conn.execute(
            sa.update(messages)
            .where(
                m.profile_id == profile_id,
                m.message == rule.message,
                m.status == Status.SCHEDULED.value,
            )
            .values(status=Status.CANCELLED.value, reason=reason, updated_at=now)
            .returning(m.guid)
        )
    ]
    if cancelled:
        rows = [lifecycle_row(g, now, Status.CANCELLED, reason, {}) for g in cancelled]
        conn.execute(sa.insert(lifecycle), rows)
    return cancelled


def mark(conn: Connection, profile_id: str, guid: str, column: str, now: float) -> bool:
    """Set ``read_at`` or ``archived_at`` of a profile's in-app message; False if not theirs."""
    m = messages.c
    owned = conn.execute(
        sa.select(m.guid).where(
            m.guid == guid, m.profile_id == profile_id, m.channel == Channel.INAPP.value
        )
    ).first()
    if owned is None:
        return False
    conn.execute(
        insert(conn, inapp_state)
        .values(guid=guid, profile_id=profile_id, impressions=0, **{column: now})
        .on_conflict_do_update(index_elements=[inapp_state.c.guid], set_={column: now})
    )
    return True
