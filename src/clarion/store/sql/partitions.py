"""Partition leases: which orchestrator decides the events of which partition.

``hold`` runs in one write transaction per renewal: the worker says it is alive,
renews the leases it still holds, and moves towards its fair share (it gives
back what is above it, and takes free or expired partitions up to it, and those
of workers it knows are gone: a dead process on its own host). All
workers see the same set of live workers, so the shares add up to the whole
once the renewals have gone round.

``fence`` guards every write that applies decisions: it locks (FOR SHARE on
PostgreSQL) the lease rows the writer still owns, so a takeover of one of them
(an UPDATE with SKIP LOCKED) cannot commit before the write, and the write sees
a takeover that committed first. On SQLite the one writer lock orders them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clarion.core.partitions import PARTITIONS, fair_share
from clarion.store.records import Holding
from clarion.store.schema import partition_leases, partition_workers
from clarion.store.sql.dialects import dialect_of

#: How long after its last renewal a dead worker's row is deleted.
_FORGET_S = 3600.0

_LEASES = partition_leases.c
_WORKERS = partition_workers.c


def held(owner: str, at: float) -> sa.Select[Any]:
    """The partitions whose lease ``owner`` holds at ``at``, as a subquery."""
    return sa.select(_LEASES.partition).where(_LEASES.owner == owner, _LEASES.lease_until >= at)


def hold(
    conn: Connection, owner: str, at: float, lease: float, gone: Collection[str] = ()
) -> Holding:
    until = at + lease
    live = _heartbeat(conn, owner, at, until, gone)
    _create_missing(conn)
    renew = (
        sa.update(partition_leases)
        .where(_LEASES.owner == owner)
        .values(lease_until=until)
        .returning(_LEASES.partition)
    )
    mine = set(conn.execute(renew).scalars())
    target = fair_share(owner, live)
    released: set[int] = set()
    taken: set[int] = set()
    if len(mine) > target:
        released = set(sorted(mine)[target:])
        conn.execute(
            sa.update(partition_leases)
            .where(_LEASES.partition.in_(sorted(released)), _LEASES.owner == owner)
            .values(owner=None, lease_until=None)
        )
    elif len(mine) < target:
        free = (
            sa.select(_LEASES.partition)
            .where(
                sa.or_(
                    _LEASES.owner.is_(None),
                    _LEASES.lease_until < at,
                    _LEASES.owner.in_(sorted(gone)),
                )
            )
            .order_by(_LEASES.partition)
            .limit(target - len(mine))
            .with_for_update(skip_locked=True)
        )
        take = (
            sa.update(partition_leases)
            .where(_LEASES.partition.in_(free))
            .values(owner=owner, lease_until=until)
            .returning(_LEASES.partition)
        )
        taken = set(conn.execute(take).scalars())
    return Holding(
        frozenset((mine - released) | taken),
        frozenset(taken),
        frozenset(released),
        len(live),
        tuple(live),
    )


def release(conn: Connection, owner: str) -> None:
    """Give every partition back and leave the live workers (a clean stop)."""
    conn.execute(
        sa.update(partition_leases)
        .where(_LEASES.owner == owner)
        .values(owner=None, lease_until=None)
    )
    conn.execute(sa.delete(partition_workers).where(_WORKERS.owner == owner))


def fence(conn: Connection, owner: str) -> list[int]:
    """The partitions ``owner`` still owns, locked against a takeover until commit.

    An owner whose lease ran out still owns its partitions until another worker
    takes them: nobody else decided their events meanwhile, so its writes stand.
    """
    query = (
        sa.select(_LEASES.partition)
        .where(_LEASES.owner == owner)
        .order_by(_LEASES.partition)
        .with_for_update(read=True)
    )
    return list(conn.execute(query).scalars())


def _heartbeat(
    conn: Connection, owner: str, at: float, until: float, gone: Collection[str]
) -> list[str]:
    """Note ``owner`` alive until ``until``, and forget the workers known ``gone``;
    the workers alive at ``at``."""
    stmt = dialect_of(conn).insert(partition_workers).values(owner=owner, alive_until=until)
    conn.execute(
        stmt.on_conflict_do_update(index_elements=[_WORKERS.owner], set_={"alive_until": until})
    )
    # A worker that died without leaving is forgotten after a while (its partitions
    # expire on their own); until then it only takes up a row.
    stale = sa.or_(_WORKERS.alive_until < at - _FORGET_S, _WORKERS.owner.in_(sorted(gone)))
    conn.execute(sa.delete(partition_workers).where(stale))
    query = sa.select(_WORKERS.owner).where(_WORKERS.alive_until >= at).order_by(_WORKERS.owner)
    return list(conn.execute(query).scalars())


def _create_missing(conn: Connection) -> None:
    """The lease rows, created by the first worker that looks for them."""
    count = conn.execute(sa.select(sa.func.count()).select_from(partition_leases)).scalar_one()
    if count >= PARTITIONS:
        return
    rows = [{"partition": p} for p in range(PARTITIONS)]
    stmt = dialect_of(conn).insert(partition_leases).values(rows)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=[_LEASES.partition]))
