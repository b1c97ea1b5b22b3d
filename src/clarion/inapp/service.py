"""The in-app service: validate live alerts at fetch time and assemble them in the
device's locale; feedback is recorded by ``clarion.inapp.recording``.

Skeletons are stored per profile when the dispatcher hands an in-app message to
the in-app provider; nothing is rendered until a device asks, so copy can change
without a client release and every device of the profile shares one state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from clarion.catalog import Catalog, Rendered, RenderError
from clarion.catalog.context import render_context
from clarion.core.cursor import encode_cursor
from clarion.core.inapp_spec import ActionType, InAppSpec, Template
from clarion.core.model import Channel, Profile
from clarion.core.payload import (
    Notification,
    NotificationAction,
    alerts_response,
    assemble_alert,
    assemble_notification,
    notifications_response,
)
from clarion.core.spec import Cap, MessageSpec
from clarion.core.tracking import Tracking
from clarion.inapp.device_context import DeviceContext
from clarion.inapp.federated import FederatedCaller
from clarion.inapp.feedback import FeedbackSigner
from clarion.inapp.recording import FALLBACK_SHOWN, FeedbackRecorder, FeedbackStore, Recorded
from clarion.observability import get_logger
from clarion.store.records import InAppView, LiveInApp, MessageRecord

log = get_logger("clarion.inapp")


class InAppStore(FeedbackStore, Protocol):
    """The store operations the in-app service uses (fetch, and feedback's)."""

    def inapp_view(self, profile_id: str, now: datetime, limit: int) -> InAppView: ...
    def mark_inapp(self, profile_id: str, guid: str, column: str, now: datetime) -> bool: ...
    def mark_inapp_many(
        self, profile_id: str, guids: Sequence[str], column: str, now: datetime
    ) -> list[str]: ...
    def unmark_inapp(self, profile_id: str, guid: str, column: str) -> bool: ...


#: How many live in-app messages of a profile a fetch considers, newest first.
_ALERT_WINDOW = 50
_CENTER_SIZE = 200


def _key(candidate: _Candidate) -> tuple[datetime, str]:
    message = candidate.live.message
    return (message.created_at, message.guid)


def within_caps(
    candidates: Sequence[_Candidate], live: Sequence[LiveInApp], caps: Sequence[Cap], now: datetime
) -> list[_Candidate]:
    """In-app caps count impressions: at most ``limit`` different alerts seen per
    window. Alerts already seen in the window stay; new ones wait for room.
    Transactional (account) alerts are exempt, as from every fatigue cap."""
    room = []
    for cap in caps:
        since = now - cap.window
        seen = sum(1 for x in live if x.state.last_seen_at and x.state.last_seen_at > since)
        room.append((since, cap.limit - seen))
    kept = []
    for c in candidates:
        last = c.live.state.last_seen_at
        fresh = [i for i, (since, _) in enumerate(room) if not last or last <= since]
        if c.spec.transactional or not fresh:
            kept.append(c)
        elif all(room[i][1] > 0 for i in fresh):
            for i in fresh:
                room[i] = (room[i][0], room[i][1] - 1)
            kept.append(c)
    return kept


def _acted_on(candidate: _Candidate) -> bool:
    """Whether a CTA click ended the alert. A dismiss under a ``dismiss`` rule does not:
    its suppression hides the alert only until it ends (the fetch leaves suppressed
    messages out). Without a rule, a dismiss closes the alert for good."""
    state, inapp = candidate.live.state, candidate.inapp
    if state.acted_at is None:
        return False
    if inapp.dismiss is None:
        return True
    return not any(
        cta.action_type is ActionType.DISMISS and cta.action == state.action for cta in inapp.ctas
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    live: LiveInApp
    spec: MessageSpec
    inapp: InAppSpec
    follow_up: bool
    #: Shown as its fallback: its federated call failed (``InAppState.fallback``).
    fallback: bool = False


class InAppService:
    """Fetch and feedback for one catalog, store and signing key set."""

    def __init__(
        self,
        store: InAppStore,
        catalog: Callable[[], Catalog],
        signer: FeedbackSigner,
        clock: Callable[[], datetime],
        max_alerts: int = 3,
        federated: FederatedCaller | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._signer = signer
        self._clock = clock
        self._max_alerts = max_alerts
        self._feedback = FeedbackRecorder(store, catalog, signer, clock, federated)

    def alerts(self, profile_id: str, device: DeviceContext) -> dict[str, object]:
        """The alerts this device should show now, assembled in its locale."""
        now = self._clock()
        catalog = self._catalog()
        view, found = self._candidates(profile_id, device, catalog, now, _ALERT_WINDOW)
        candidates = [
            c for c in found if c.inapp.template is not Template.NOTIFICATION and not _acted_on(c)
        ]
        caps = catalog.spec.policy.channel_caps.get(Channel.INAPP, ())
        candidates = within_caps(candidates, view.live, caps, now) if caps else candidates
        if not candidates:
            return alerts_response([])
        profile = view.profile or Profile(id=profile_id)
        locale = device.locale or profile.locale
        alerts = []
        for candidate in candidates[: self._max_alerts]:
            try:
                alerts.append(self._assemble(candidate, catalog, profile, locale))
            except RenderError as exc:  # a broken string must not hide the other alerts
                log.error("inapp_render_failed", guid=candidate.live.message.guid, error=str(exc))
        return alerts_response(alerts)

    def _candidates(
        self, profile_id: str, device: DeviceContext, catalog: Catalog, now: datetime, limit: int
    ) -> tuple[InAppView, list[_Candidate]]:
        """What the store holds for the profile (one read), and the live in-app
        messages this device may show now."""
        view = self._store.inapp_view(profile_id, now, limit=limit)
        found = (self._candidate(x, catalog, view.suppressed, device, now) for x in view.live)
        return view, [c for c in found if c is not None]

    def _candidate(
        self,
        live: LiveInApp,
        catalog: Catalog,
        suppressed: Set[str],
        device: DeviceContext,
        now: datetime,
    ) -> _Candidate | None:
        message, state = live.message, live.state
        found = catalog.spec.messages.get(message.message)
        spec = found.for_cell(message.ab_test_cell) if found is not None else None
        if spec is None or message.step >= len(spec.channels):
            return None
        inapp = spec.channels[message.step].inapp
        if inapp is None or message.message in suppressed:
            return None
        if inapp.ttl is not None and message.created_at + inapp.ttl <= now:
            return None
        follow = inapp.follow_up
        if state.fallback is not None:
            inapp, is_follow_up = inapp.fallback_spec(state.fallback or None), False
        elif follow is not None and state.impressions >= follow.after_impressions:
            follow_spec = inapp.follow_up_spec()
            if follow_spec is None:
                return None
            inapp, is_follow_up = follow_spec, True
        else:
            is_follow_up = False
        eligible = not device.platform or inapp.eligible(device.platform, device.app_version)
        if not eligible or inapp.blocks(device.page):
            return None
        return _Candidate(live, spec, inapp, is_follow_up, state.fallback is not None)

    def notifications(
        self,
        profile_id: str,
        device: DeviceContext,
        limit: int,
        before: tuple[datetime, str] | None = None,
        archived: bool = False,
    ) -> dict[str, object]:
        """A page of the profile's notification center, newest first, with its unread count."""
        catalog = self._catalog()
        view, items = self._center(profile_id, device, catalog, archived)
        unread = sum(1 for c in items if c.live.state.read_at is None)
        if before is not None:
            items = [c for c in items if _key(c) < before]
        page, more = items[:limit], len(items) > limit
        assembled = []
        if page:
            profile = view.profile or Profile(id=profile_id)
            locale = device.locale or profile.locale
            assembled = [self._notification(c, catalog, profile, locale) for c in page]
        cursor = _key(page[-1]) if more else None
        return notifications_response(assembled, unread, encode_cursor(*cursor) if cursor else None)

    def _center(
        self, profile_id: str, device: DeviceContext, catalog: Catalog, archived: bool
    ) -> tuple[InAppView, list[_Candidate]]:
        """The notification-center items this device may list (the same validation as
        alerts: platform, app version, expiry, suppressions), newest first."""
        view, found = self._candidates(profile_id, device, catalog, self._clock(), _CENTER_SIZE)
        items = [
            c
            for c in found
            if c.inapp.template is Template.NOTIFICATION
            and (archived or c.live.state.archived_at is None)
        ]
        return view, items

    def mark(self, profile_id: str, guid: str, column: str) -> bool:
        """Set ``read_at`` or ``archived_at`` of a notification; False if not the profile's."""
        return self._store.mark_inapp(profile_id, guid, column, self._clock())

    def mark_all_read(self, profile_id: str, device: DeviceContext) -> int:
        """Mark read every unread item this device's center lists; how many it marked."""
        _, items = self._center(profile_id, device, self._catalog(), archived=False)
        unread = [c.live.message.guid for c in items if c.live.state.read_at is None]
        return len(self._store.mark_inapp_many(profile_id, unread, "read_at", self._clock()))

    def unarchive(self, profile_id: str, guid: str) -> bool:
        """Put an archived notification back in the center; False if not the profile's."""
        return self._store.unmark_inapp(profile_id, guid, "archived_at")

    @staticmethod
    def _render(candidate: _Candidate, catalog: Catalog, profile: Profile, locale: str) -> Rendered:
        message = candidate.live.message
        context = render_context(profile, candidate.live.event)
        render = catalog.render_follow_up if candidate.follow_up else catalog.render
        if candidate.fallback:
            render = catalog.render_fallback
        return render(message.message, message.step, locale, context, message.ab_test_cell)

    def _notification(
        self, candidate: _Candidate, catalog: Catalog, profile: Profile, locale: str
    ) -> dict[str, object]:
        message, state, inapp = candidate.live.message, candidate.live.state, candidate.inapp
        rendered = self._render(candidate, catalog, profile, locale)
        fields = rendered.fields
        cta = inapp.ctas[0] if inapp.ctas else None
        item = Notification(
            guid=message.guid,
            created_at=message.created_at,
            title=fields[inapp.title] if inapp.title else "",
            body=fields[inapp.body],
            read=state.read_at is not None,
            archived=state.archived_at is not None,
            image=fields[inapp.image] if inapp.image else None,
            action=NotificationAction(cta.action_type, cta.action) if cta else None,
        )
        return assemble_notification(
            item, self._tracking(message, rendered.locale, inapp), self._signer.sign
        )

    def _tracking(self, message: MessageRecord, locale: str, inapp: InAppSpec) -> Tracking:
        return Tracking(
            message_guid=message.guid,
            event_guid=message.event_id,
            render_guid=f"{uuid.uuid4()}_R".upper(),
            message_name=message.message,
            message_id=message.message_id,
            locale=locale,
            template_id=inapp.template.value,
            ab_test_id=message.ab_test_id,
            ab_test_cell=message.ab_test_cell,
        )

    def _assemble(
        self, candidate: _Candidate, catalog: Catalog, profile: Profile, locale: str
    ) -> dict[str, object]:
        rendered = self._render(candidate, catalog, profile, locale)
        tracking = self._tracking(candidate.live.message, rendered.locale, candidate.inapp)
        return assemble_alert(candidate.inapp, rendered.fields, tracking, self._signer.sign)

    def feedback(self, profile_id: str, obj: object, device: DeviceContext) -> Recorded:
        """Record verified feedback of ``profile_id``'s device; returns what it caused
        (see ``FeedbackRecorder.record``)."""
        return self._feedback.record(profile_id, obj, device)

    def feedback_answer(
        self, profile_id: str, obj: object, device: DeviceContext
    ) -> tuple[Recorded, dict[str, object] | None]:
        """``feedback``, and when a failed federated call left the alert shown as its
        fallback, that alert assembled for this device (in its locale) to show now."""
        recorded = self.feedback(profile_id, obj, device)
        if FALLBACK_SHOWN not in recorded.effects:
            return recorded, None
        guid = self._signer.verify(obj).tracking.message_guid
        catalog = self._catalog()
        view, found = self._candidates(profile_id, device, catalog, self._clock(), _ALERT_WINDOW)
        shown = [c for c in found if c.fallback and c.live.message.guid == guid]
        if not shown:  # e.g. not for this device's platform or version
            return recorded, None
        profile = view.profile or Profile(id=profile_id)
        return recorded, self._assemble(shown[0], catalog, profile, device.locale or profile.locale)
