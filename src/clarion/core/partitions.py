"""Partitions of profiles: the unit of ownership among orchestrators (DESIGN §4).

Caps, dedup, cancel-on and ladders are decided against a profile's history, so
a profile's events must be decided by one worker at a time, in order. Each
event is stored with the partition of its *key*, and a worker decides only the
events of partitions it holds under a lease. The same partitions later map one
to one onto the partitions of a log (NATS JetStream subjects, Kafka partitions).

The key is the profile's account when it has one, else the profile: an event
for a whole account decides for every profile of that account, so all of them
must be in one partition. The hash is stable across processes, machines and
Python versions (blake2b, not ``hash()``), so that every intake process puts a
profile's events in the same partition.
"""

from __future__ import annotations

from collections.abc import Collection
from hashlib import blake2b

#: How many partitions a database has. Fixed for the life of the database: every
#: stored event carries its partition number, so changing this means moving
#: every pending event (a migration). 64 spreads the load evenly over up to a
#: few dozen workers and keeps the lease table small enough to read whole.
PARTITIONS = 64


def partition_key(profile_id: str, account_id: str | None) -> str:
    """What decides an event's partition: its account if it has one, else its profile.

    Prefixed, so that an account and a profile with the same id do not collide on
    purpose (they may still share a partition by hash, which is harmless).
    """
    return f"a:{account_id}" if account_id else f"p:{profile_id}"


def partition_of(key: str, partitions: int = PARTITIONS) -> int:
    """The partition of a key: its blake2b hash modulo ``partitions``."""
    digest = blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def fair_share(owner: str, live: Collection[str], partitions: int = PARTITIONS) -> int:
    """How many partitions ``owner`` should hold when the workers ``live`` share them.

    Every worker computes the same answer from the same set of live workers: the
    partitions split evenly, the first ``partitions % n`` workers in name order
    holding one more. An owner not among ``live`` counts as one of them.
    """
    members = sorted({*live, owner})
    base, extra = divmod(partitions, len(members))
    return base + (1 if members.index(owner) < extra else 0)
