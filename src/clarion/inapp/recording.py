"""Feedback from devices: verify it, record impressions and actions, and carry out
the rules an action triggers (a federated call for a ``BACKEND`` CTA, suppression
after a dismiss)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from clarion.catalog import Catalog
from clarion.core.inapp_spec import ActionType, DismissScope, InAppSpec
from clarion.core.model import Channel
from clarion.core.tracking import FeedbackBody, FeedbackType
from clarion.inapp.device_context import DeviceContext
from clarion.inapp.federated import FederatedCaller
from clarion.inapp.feedback import FeedbackSigner
from clarion.store.records import MessageRecord, Suppression


class FeedbackStore(Protocol):
    """The store operations recording feedback uses."""

    def get_message(self, guid: str) -> MessageRecord | None: ...
    def record_impression(
        self, message: MessageRecord, now: datetime, detail: dict[str, object]
    ) -> None: ...
    def record_action(
        self, message: MessageRecord, action: str, now: datetime, detail: dict[str, object]
    ) -> None: ...
    def record_fallback(
        self,
        message: MessageRecord,
        action: str,
        fallback: str,
        now: datetime,
        detail: dict[str, object],
    ) -> None: ...
    def suppress(self, profile_id: str, rule: Suppression, now: datetime) -> list[str]: ...


#: The effect of a failed federated call whose alert is now shown as its fallback.
FALLBACK_SHOWN = "fallback_shown"


class NotYours(Exception):
    """Feedback about a message of another profile (or of none)."""


class FeedbackRecorder:
    """Records the feedback of devices for one catalog, store and signing key set."""

    def __init__(
        self,
        store: FeedbackStore,
        catalog: Callable[[], Catalog],
        signer: FeedbackSigner,
        clock: Callable[[], datetime],
        federated: FederatedCaller | None = None,
    ) -> None:
        self._federated = federated or FederatedCaller({})
        self._store = store
        self._catalog = catalog
        self._signer = signer
        self._clock = clock

    def record(self, profile_id: str, obj: object, device: DeviceContext) -> list[str]:
        """Record verified feedback of ``profile_id``'s device; returns what it caused.

        Raises ``FeedbackRejected`` (bad signature, expired, malformed) or ``NotYours``."""
        body = self._signer.verify(obj)
        message = self._store.get_message(body.tracking.message_guid)
        if (
            message is None
            or message.profile_id != profile_id
            or message.channel is not Channel.INAPP
        ):
            raise NotYours(body.tracking.message_guid)
        now = self._clock()
        detail = {
            **device.detail(),
            "renderGuid": body.tracking.render_guid,
            "templateId": body.tracking.template_id,
        }
        if body.feedback_type is FeedbackType.IMPRESSION:
            self._store.record_impression(message, now, detail)
            return ["impression"]
        action = body.action or ""
        if body.action_type is ActionType.BACKEND:
            result = self._federated.call(
                action,
                {"profileId": profile_id, "messageGuid": message.guid, "action": action, **detail},
            )
            detail = {**detail, "federated": "ok" if result.ok else result.error}
            fallback = None if result.ok else self._fallback(message, result.fallback)
            if fallback is not None:
                # No CTA was taken: the alert stays, as its fallback, until that ends it.
                detail = {**detail, "fallback": fallback or None}
                self._store.record_fallback(message, action, fallback, now, detail)
                return ["action", *result.effects(action), FALLBACK_SHOWN]
            self._store.record_action(message, action, now, detail)
            return ["action", *result.effects(action)]
        self._store.record_action(message, action, now, detail)
        return ["action", *self._rules(message, body, now)]

    def _inapp(self, message: MessageRecord) -> InAppSpec | None:
        found = self._catalog().spec.messages.get(message.message)
        spec = found.for_cell(message.ab_test_cell) if found is not None else None
        step = spec.channels[message.step] if spec and message.step < len(spec.channels) else None
        return step.inapp if step is not None else None

    def _fallback(self, message: MessageRecord, configured: str | None) -> str | None:
        """The action the failed call's fallback redirects to ("" for none), or None
        when neither the step nor the action's configuration declares a fallback."""
        inapp = self._inapp(message)
        if configured is None and (inapp is None or inapp.fallback is None):
            return None
        return configured or ""

    def _rules(self, message: MessageRecord, body: FeedbackBody, now: datetime) -> Sequence[str]:
        if body.action_type is not ActionType.DISMISS:
            return ()
        found = self._catalog().spec.messages.get(message.message)
        spec = found.for_cell(message.ab_test_cell) if found is not None else None
        step = spec.channels[message.step] if spec and message.step < len(spec.channels) else None
        rule = step.inapp.dismiss if step is not None and step.inapp is not None else None
        if rule is None:
            return ()
        everywhere = rule.scope is DismissScope.ALL_CHANNELS
        cancelled = self._store.suppress(
            message.profile_id,
            Suppression(message.message, now + rule.suppress_for, "dismiss", everywhere),
            now,
        )
        return ["suppressed", *(f"cancelled:{guid}" for guid in cancelled)]
