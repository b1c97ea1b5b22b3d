"""What a provider is handed: the rendered message with its addresses and
tracking ids, and the render contexts a batch shares."""

from __future__ import annotations

from collections.abc import Mapping

from clarion.catalog.context import render_context
from clarion.channels.base import DeviceAddress, Outgoing
from clarion.core.model import Profile
from clarion.core.spec import ChannelStep
from clarion.store.records import Claimed


class Contexts:
    """Render contexts of one batch: the channels of an event share one per profile.

    Sharing is safe because templates run in an immutable sandbox."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str], dict[str, object]] = {}

    def of(self, claimed: Claimed) -> dict[str, object]:
        key = (claimed.event.id, claimed.profile.id)
        context = self._made.get(key)
        if context is None:
            context = self._made[key] = render_context(claimed.profile, claimed.event)
        return context


def devices_of(profile: Profile, ids: tuple[str, ...]) -> tuple[DeviceAddress, ...]:
    wanted = set(ids)
    return tuple(
        DeviceAddress(d.id, d.platform, d.push_token, d.app_version)
        for d in profile.devices
        if d.id in wanted
    )


def outgoing_of(
    claimed: Claimed, step: ChannelStep, locale: str, fields: Mapping[str, str]
) -> Outgoing:
    m, p = claimed.message, claimed.profile
    return Outgoing(
        guid=m.guid,
        channel=m.channel,
        message=m.message,
        message_id=m.message_id,
        category=m.category,
        profile_id=p.id,
        locale=locale,
        fields=fields,
        email=p.email,
        phone=p.phone,
        country=p.country,
        devices=devices_of(p, m.devices),
        attempt=m.attempts,
        tracking={
            "messageGuid": m.guid,
            "eventGuid": m.event_id,
            "messageName": m.message,
            "messageId": m.message_id,
            "locale": locale,
            "abTestId": m.ab_test_id,
            "abTestCell": m.ab_test_cell,
        },
        options=step.options,
    )
