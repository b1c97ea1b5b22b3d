"""Effectively once: ``attempt`` entries written before calls to providers without
idempotency keys, and finding the claims whose previous attempt is unconfirmed
(docs/delivery.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core import reasons
from clarion.core.model import JSONObject, Status
from clarion.store.records import Attempt
from clarion.store.schema import lifecycle, messages
from clarion.store.sql.bulk import append, chunked
from clarion.store.sql.convert import lifecycle_row, ts

_SENDING = Status.SENDING.value
_SCHEDULED = Status.SCHEDULED.value
_CLAIM_REASONS = (None, reasons.LEASE_EXPIRED)


def attempt_entries(attempts: Sequence[Attempt], now: datetime) -> list[dict[str, object]]:
    at = ts(now)
    entries = []
    for a in attempts:
        detail: dict[str, object] = {"provider": a.provider, "attempt": a.attempt}
        if a.possible_duplicate:
            detail["possible_duplicate"] = True
        entries.append(lifecycle_row(a.guid, at, Status.SENDING, reasons.ATTEMPT, detail))
    return entries


def record_attempts(
    conn: Connection, attempts: Sequence[Attempt], entries: Sequence[dict[str, object]]
) -> set[str]:
    """Append the entries of the attempts whose lease is still held; their guids.

    The caller holds the write lock (SQLite) or runs in one transaction, and an
    expired lease is only taken over by a write, so the check stays true until
    the commit."""
    owners: dict[str, str] = {}
    for chunk in chunked(sorted({a.guid for a in attempts})):
        query = sa.select(messages.c.guid, messages.c.lease_owner).where(
            messages.c.guid.in_(chunk), messages.c.status == _SENDING
        )
        owners.update((guid, owner) for guid, owner in conn.execute(query))
    held = [
        entry
        for a, entry in zip(attempts, entries, strict=True)
        if owners.get(a.guid) == a.lease_owner
    ]
    append(conn, lifecycle, held)
    return {str(entry["guid"]) for entry in held}


def unconfirmed_of(conn: Connection, guids: Iterable[str], owner: str) -> dict[str, JSONObject]:
    """For messages just claimed by ``owner`` again, the previous attempt's detail
    when its outcome is unknown: an ``attempt`` entry with no verdict after it (the
    process died in the call) or a retry after an error marked ``unconfirmed``."""
    found: dict[str, JSONObject] = {}
    c = lifecycle.c
    for chunk in chunked(sorted(set(guids))):
        query = (
            sa.select(c.guid, c.status, c.reason, c.detail)
            .where(c.guid.in_(chunk))
            .order_by(c.guid, c.id)
        )
        history: dict[str, list[sa.Row[Any, Any, Any, Any]]] = {}
        for row in conn.execute(query):
            history.setdefault(row.guid, []).append(row)
        for guid, rows in history.items():
            detail = _unconfirmed(rows, owner)
            if detail is not None:
                found[guid] = detail
    return found


def _is_claim(row: sa.Row[Any, Any, Any, Any]) -> bool:
    return row.status == _SENDING and row.reason in _CLAIM_REASONS


def _unconfirmed(rows: Sequence[sa.Row[Any, Any, Any, Any]], owner: str) -> JSONObject | None:
    claims = [
        i
        for i, row in enumerate(rows)
        if _is_claim(row)
        and isinstance(row.detail, dict)
        and row.detail.get("lease_owner") == owner
    ]
    if not claims:
        return None
    # Claims in a row mean crashes before an attempt was recorded (so no call that
    # needs one went out under them): what came before the first of them decides.
    i = claims[-1] - 1
    while i >= 0 and _is_claim(rows[i]):
        i -= 1
    if i < 0:
        return None
    before = rows[i]
    detail = before.detail if isinstance(before.detail, dict) else {}
    if before.reason == reasons.ATTEMPT:
        return {"provider": detail.get("provider"), "cause": reasons.LEASE_EXPIRED}
    if before.status == _SCHEDULED and detail.get("unconfirmed"):
        # A retry, failover or deferral after an attempt of unknown fate names
        # the provider that attempt went to.
        return {"provider": detail["unconfirmed"], "cause": before.reason}
    return None
