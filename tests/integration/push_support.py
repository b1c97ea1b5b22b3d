"""What the push clients' tests share: a notification and a way to send a few."""

from __future__ import annotations

import asyncio

from clarion.channels.push import PushService
from clarion.channels.push_message import Notification, push_id


def note(guid: str = "GUID-1", **overrides: object) -> Notification:
    values: dict[str, object] = {
        "guid": guid,
        "push_id": push_id(guid),
        "title": "Payment failed",
        "body": "Update your card",
        "deep_link": "/account/payment",
    }
    values.update(overrides)
    return Notification(**values)  # type: ignore[arg-type]


def push(client: PushService, *notes: tuple[Notification, str]) -> list[str | None]:
    """Send each (notification, token) in turn on one event loop, then close the client."""

    async def go() -> list[str | None]:
        try:
            return [await client.push(n, token) for n, token in notes]
        finally:
            await client.aclose()

    return asyncio.run(go())
