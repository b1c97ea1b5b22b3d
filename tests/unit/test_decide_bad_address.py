"""decide() treats an address as absent on the channels a provider said it cannot
receive (a bad number: SMS and voice; a landline: SMS only), until the limit expires
or the profile changes the address."""

from __future__ import annotations

from datetime import timedelta

from clarion.core.decide import decide
from clarion.core.model import PHONE_CHANNELS, AddressLimit, Channel, Status
from tests.unit.core_fixtures import T0, catalog, event, message, profile, step

LADDER = message(
    channels=(step(0, Channel.SMS), step(1, Channel.VOICE), step(2, Channel.EMAIL)),
)
PHONE = "+15551234567"
SMS_ONLY = frozenset({Channel.SMS})


def outcome(*limits: AddressLimit) -> list[tuple[Status, str | None]]:
    out = decide(event(), {"p1": profile(address_limits=limits)}, {}, catalog(LADDER), T0)
    return [(d.status, d.reason) for d in out.decisions]


def test_a_bad_phone_stops_sms_and_voice_but_not_email() -> None:
    assert outcome(AddressLimit(PHONE, PHONE_CHANNELS)) == [
        (Status.SUPPRESSED, "no_address"),
        (Status.SUPPRESSED, "no_address"),
        (Status.SCHEDULED, None),
    ]


def test_a_number_that_cannot_receive_sms_still_gets_the_call() -> None:
    # A landline (Twilio 30006): exactly the case the voice fallback is for.
    assert outcome(AddressLimit(PHONE, SMS_ONLY)) == [
        (Status.SUPPRESSED, "no_address"),
        (Status.SCHEDULED, None),
        (Status.SCHEDULED, None),
    ]


def test_a_temporary_limit_holds_until_it_expires() -> None:
    # A handset that was off (Twilio 30003) is tried again once the limit ends.
    assert outcome(AddressLimit(PHONE, SMS_ONLY, until=T0 + timedelta(hours=1)))[0] == (
        Status.SUPPRESSED,
        "no_address",
    )
    assert outcome(AddressLimit(PHONE, SMS_ONLY, until=T0)) == [(Status.SCHEDULED, None)] * 3


def test_a_bad_email_stops_email() -> None:
    assert outcome(AddressLimit("p1@example.com", frozenset({Channel.EMAIL})))[2] == (
        Status.SUPPRESSED,
        "no_address",
    )


def test_an_entry_for_an_old_number_does_not_match_the_new_one() -> None:
    assert outcome(AddressLimit("+15550000000", PHONE_CHANNELS)) == [(Status.SCHEDULED, None)] * 3
