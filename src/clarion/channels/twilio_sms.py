"""SMS through Twilio's Messages resource."""

from __future__ import annotations

from clarion.channels.base import Outgoing, Receipt
from clarion.channels.twilio_client import Senders, TwilioClient, copy_of, require_phone
from clarion.core.markup import to_plain


class TwilioSmsProvider:
    """Sends each message as an SMS: ``From`` chosen by destination country, ``Body``
    the localized copy as plain text, status callbacks to Clarion when configured.

    The receipt's ``ref`` is the Message SID, which status callbacks name.
    """

    #: Twilio's Messages API takes no idempotency key (see ``twilio_client``).
    idempotent = False

    def __init__(
        self,
        client: TwilioClient,
        senders: Senders,
        *,
        name: str = "twilio_sms",
        status_callback: str | None = None,
    ) -> None:
        self.name = name
        self._client = client
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

    async def send(self, message: Outgoing) -> Receipt:
        """Create the Message; its SID is the receipt's ``ref``."""
        form = self.form(message)
        created = await self._client.create("Messages", form, form[0][1])
        return Receipt(
            provider=self.name,
            ref=str(created["sid"]),
            detail={"twilio_status": str(created.get("status")), "from": form[1][1]},
        )

    async def aclose(self) -> None:
        """Close the Twilio client's connections."""
        await self._client.aclose()
