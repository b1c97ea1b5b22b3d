"""Telling a database outage from a database refusal."""

from __future__ import annotations

import sqlalchemy as sa


def unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database could not be reached or used right now
    (down, locked, out of connections): retrying the same work later can succeed.
    False when it refused what it was given, which retrying does not change."""
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError):
        return True
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated
