"""Feedback from devices: verify it, record impressions and actions, and carry out
the rules an action triggers (a federated call for a ``BACKEND`` CTA, suppression
after a dismiss).

Each feedback object takes effect once (``FeedbackBody.once_key``: its render,
feedback type and CTA): the store takes the object's receipt in the transaction
that records its effect, and a replay, or a second post racing the first, is
answered as a duplicate and changes nothing. A ``BACKEND`` click takes its receipt
before calling the backend, so a replay never calls it again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from clarion.catalog import Catalog
from clarion.core.inapp_spec import ActionType, DismissScope, InAppSpec
from clarion.core.model import Channel
from clarion.core.tracking import FeedbackBody, FeedbackType
from clarion.inapp.device_context import DeviceContext
from clarion.inapp.federated import FederatedCaller
from clarion.inapp.feedback import FeedbackSigner
from clarion.observability import FEEDBACK_DUPLICATE
from clarion.store.records import FeedbackReceipt, MessageRecord, Suppression


class FeedbackStore(Protocol):
    """The store operations recording feedback uses."""

    def get_message(self, guid: str) -> MessageRecord | None: ...
    def record_impression(
        self,
        message: MessageRecord,
        now: datetime,
        detail: dict[str, object],
        receipt: FeedbackReceipt | None = None,
    ) -> bool: ...
    def record_action(
        self,
        message: MessageRecord,
        action: str,
        now: datetime,
        detail: dict[str, object],
        receipt: FeedbackReceipt | None = None,
        suppression: Suppression | None = None,
    ) -> list[str] | None: ...
    def record_fallback(
        self,
        message: MessageRecord,
        action: str,
        fallback: str,
        now: datetime,
        detail: dict[str, object],
    ) -> None: ...
    def take_feedback_receipt(self, guid: str, receipt: FeedbackReceipt, now: datetime) -> bool: ...


#: The effect of a failed federated call whose alert is now shown as its fallback.
FALLBACK_SHOWN = "fallback_shown"


class NotYours(Exception):
    """Feedback about a message of another profile (or of none)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What a feedback post caused; ``duplicate``: the object had taken effect before."""

    effects: tuple[str, ...]
    duplicate: bool = False

    def to_json(self) -> dict[str, object]:
        status = "duplicate" if self.duplicate else "recorded"
        return {"status": status, "effects": list(self.effects), "duplicate": self.duplicate}


_DUPLICATE = Recorded((), duplicate=True)


def _duplicate(body: FeedbackBody) -> Recorded:
    FEEDBACK_DUPLICATE.labels(body.feedback_type.value).inc()
    return _DUPLICATE


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

    def record(self, profile_id: str, obj: object, device: DeviceContext) -> Recorded:
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
        # Kept while the object can verify: it expires at most ``ttl`` from now.
        receipt = FeedbackReceipt(body.once_key(), now + timedelta(seconds=body.ttl))
        detail = {
            **device.detail(),
            "renderGuid": body.tracking.render_guid,
            "templateId": body.tracking.template_id,
        }
        if body.feedback_type is FeedbackType.IMPRESSION:
            if not self._store.record_impression(message, now, detail, receipt):
                return _duplicate(body)
            return Recorded(("impression",))
        action = body.action or ""
        if body.action_type is ActionType.BACKEND:
            if not self._store.take_feedback_receipt(message.guid, receipt, now):
                return _duplicate(body)
            result = self._federated.call(
                action,
                {"profileId": profile_id, "messageGuid": message.guid, "action": action, **detail},
                idempotency_key=receipt.key,
            )
            detail = {**detail, "federated": "ok" if result.ok else result.error}
            fallback = None if result.ok else self._fallback(message, result.fallback)
            if fallback is not None:
                # No CTA was taken: the alert stays, as its fallback, until that ends it.
                detail = {**detail, "fallback": fallback or None}
                self._store.record_fallback(message, action, fallback, now, detail)
                return Recorded(("action", *result.effects(action), FALLBACK_SHOWN))
            self._store.record_action(message, action, now, detail)
            return Recorded(("action", *result.effects(action)))
        suppression = self._dismissal(message, body, now)
        cancelled = self._store.record_action(message, action, now, detail, receipt, suppression)
        if cancelled is None:
            return _duplicate(body)
        if suppression is None:
            return Recorded(("action",))
        return Recorded(("action", "suppressed", *(f"cancelled:{guid}" for guid in cancelled)))

    def _inapp(self, message: MessageRecord) -> InAppSpec | None:
        """The in-app spec of the message's step (in its cell), if the catalog has it."""
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

    def _dismissal(
        self, message: MessageRecord, body: FeedbackBody, now: datetime
    ) -> Suppression | None:
        """The suppression a dismiss causes under the catalog's rule, if any."""
        if body.action_type is not ActionType.DISMISS:
            return None
        inapp = self._inapp(message)
        rule = inapp.dismiss if inapp is not None else None
        if rule is None:
            return None
        everywhere = rule.scope is DismissScope.ALL_CHANNELS
        return Suppression(message.message, now + rule.suppress_for, "dismiss", everywhere)
