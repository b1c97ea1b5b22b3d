"""The in-app "provider": hands a message to the in-app store, where devices fetch it.

Nothing is rendered or sent here. The message becomes ``sent`` (stored, fetchable);
its first impression on any device makes it ``delivered`` (``clarion.inapp``).
"""

from __future__ import annotations

from clarion.channels.base import Outgoing, Receipt
from clarion.core.model import Channel


class InAppProvider:
    """Accepts every in-app message into the store it already lives in."""

    idempotent = True  # the message is stored under its guid; a repeat changes nothing
    channels = frozenset({Channel.INAPP})

    def __init__(self, name: str = "inapp") -> None:
        self.name = name

    async def send(self, message: Outgoing) -> Receipt:
        return Receipt(provider=self.name, ref=None, delivered=False, detail={"stored": True})

    async def aclose(self) -> None:
        return None
