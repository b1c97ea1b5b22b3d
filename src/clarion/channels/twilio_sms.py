"""SMS through Twilio's Messages resource."""

from __future__ import annotations

from clarion.channels.base import Outgoing
from clarion.channels.twilio_client import (
    Senders,
    TwilioClient,
    TwilioProvider,
    copy_of,
    require_phone,
)
from clarion.core.markup import to_plain
from clarion.core.model import Channel


class TwilioSmsProvider(TwilioProvider):
    """Sends each message as an SMS: ``From`` chosen by destination country, ``Body``
    the localized copy as plain text, status callbacks to Clarion when configured.

    The receipt's ``ref`` is the Message SID, which status callbacks name.
    """

    resource = "Messages"
    channels = frozenset({Channel.SMS})

    def __init__(
        self,
        client: TwilioClient,
        senders: Senders,
        *,
        name: str = "twilio_sms",
        status_callback: str | None = None,
    ) -> None:
        super().__init__(client, name)
        self._senders = senders
        self._status_callback = status_callback

    def form(self, message: Outgoing) -> list[tuple[str, str]]:
        """The form fields of the Messages request for ``message``."""
        phone = require_phone(message)
        form = [
            ("To", phone),
            ("From", self._senders.sender_for(phone, message.country)),
            ("Body", to_plain(copy_of(message))),
        ]
        if self._status_callback:
            form.append(("StatusCallback", self._status_callback))
        return form
