"""Opaque page cursors: the (created_at, guid) of the last item a page showed."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime


def encode_cursor(created_at: datetime, guid: str) -> str:
    raw = f"{created_at.timestamp()!r}|{guid}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for a cursor that ``encode_cursor`` did not produce."""
    try:
        stamp, _, guid = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        if not guid:
            raise ValueError("malformed cursor")
        return datetime.fromtimestamp(float(stamp), UTC), guid
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("malformed cursor") from exc
