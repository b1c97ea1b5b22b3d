"""decide() treats an address marked bad as absent, and a changed one as usable."""

from __future__ import annotations

from clarion.core.decide import decide
from clarion.core.model import Channel, Status
from tests.unit.core_fixtures import T0, catalog, event, message, profile, step

LADDER = message(
    channels=(step(0, Channel.SMS), step(1, Channel.VOICE), step(2, Channel.EMAIL)),
)


def outcome(**kw: object) -> list[tuple[Status, str | None]]:
    out = decide(event(), {"p1": profile(**kw)}, {}, catalog(LADDER), T0)
    return [(d.status, d.reason) for d in out.decisions]


def test_a_bad_phone_stops_sms_and_voice_but_not_email() -> None:
    assert outcome(bad_addresses=frozenset({"+15551234567"})) == [
        (Status.SUPPRESSED, "no_address"),
        (Status.SUPPRESSED, "no_address"),
        (Status.SCHEDULED, None),
    ]


def test_a_bad_email_stops_email() -> None:
    assert outcome(bad_addresses=frozenset({"p1@example.com"}))[2] == (
        Status.SUPPRESSED,
        "no_address",
    )


def test_an_entry_for_an_old_number_does_not_match_the_new_one() -> None:
    assert outcome(bad_addresses=frozenset({"+15550000000"})) == [(Status.SCHEDULED, None)] * 3
