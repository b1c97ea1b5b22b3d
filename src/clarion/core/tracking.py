"""What a feedback object carries: the tracking info of one render, and the body around it.

A device posts a feedback object back unchanged after an impression or a click;
the service signs it (``clarion.inapp.feedback``) so it can trust the body when
it returns. These are the values and their JSON spelling in the contract
(DESIGN.md section 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import quote

from clarion.core.inapp_spec import ActionType

_TRACKING_KEYS: Final = frozenset(
    {
        "messageGuid",
        "eventGuid",
        "renderGuid",
        "messageName",
        "messageId",
        "locale",
        "abTestId",
        "abTestCell",
        "templateId",
    }
)
_BODY_KEYS: Final = frozenset({"ttl", "feedbackType", "trackingInfo"})
_CTA_KEYS: Final = frozenset({"action", "actionType"})


class FeedbackError(ValueError):
    """A feedback body that does not have the contract's shape."""


class FeedbackType(StrEnum):
    """Why a device posts feedback."""

    IMPRESSION = "impression"  # the alert or notification was shown
    CTA = "cta"  # a CTA (or a notification) was clicked


@dataclass(frozen=True, slots=True)
class Tracking:
    """Which render of which message a feedback object is about.

    ``render_guid`` is fresh for every assembly, so impressions of the same
    message on two devices, or twice on one, can be told apart.
    """

    message_guid: str
    event_guid: str
    render_guid: str
    message_name: str
    message_id: int
    locale: str
    template_id: str
    ab_test_id: int | None = None
    ab_test_cell: int | None = None

    def to_json(self) -> dict[str, object]:
        """The contract's ``trackingInfo`` (test fields are ``null`` outside a test)."""
        return {
            "messageGuid": self.message_guid,
            "eventGuid": self.event_guid,
            "renderGuid": self.render_guid,
            "messageName": self.message_name,
            "messageId": self.message_id,
            "locale": self.locale,
            "abTestId": self.ab_test_id,
            "abTestCell": self.ab_test_cell,
            "templateId": self.template_id,
        }

    @classmethod
    def from_json(cls, data: object) -> Tracking:
        """The tracking info in ``data``; raises ``FeedbackError`` for any other shape."""
        fields = _exactly(data, _TRACKING_KEYS, "trackingInfo")
        return cls(
            message_guid=_text(fields, "messageGuid"),
            event_guid=_text(fields, "eventGuid"),
            render_guid=_text(fields, "renderGuid"),
            message_name=_text(fields, "messageName"),
            message_id=_integer(fields, "messageId"),
            locale=_text(fields, "locale"),
            template_id=_text(fields, "templateId"),
            ab_test_id=_maybe_integer(fields, "abTestId"),
            ab_test_cell=_maybe_integer(fields, "abTestCell"),
        )


@dataclass(frozen=True, slots=True)
class FeedbackBody:
    """What one feedback object says, before signing: for ``ttl`` seconds, the device
    may report ``feedback_type`` for the render in ``tracking``; a CTA's body also
    names the clicked CTA's ``action_type`` and ``action``."""

    ttl: int
    feedback_type: FeedbackType
    tracking: Tracking
    action_type: ActionType | None = None
    action: str | None = None

    def __post_init__(self) -> None:
        if self.ttl <= 0:
            raise FeedbackError("ttl must be a positive number of seconds")
        is_cta = self.feedback_type is FeedbackType.CTA
        if is_cta != (self.action is not None) or is_cta != (self.action_type is not None):
            raise FeedbackError("a CTA body names its action and action type; others do not")

    def to_json(self) -> dict[str, object]:
        """The body as the contract spells it."""
        out: dict[str, object] = {
            "ttl": self.ttl,
            "feedbackType": self.feedback_type.value,
            "trackingInfo": self.tracking.to_json(),
        }
        if self.action_type is not None:
            out["actionType"] = self.action_type.value
            out["action"] = self.action
        return out

    def once_key(self) -> str:
        """What makes this feedback one act: the render, the feedback type and, for a CTA,
        the action. Posting the same object again is a replay and changes nothing.

        The action is percent-encoded so the key is ASCII: it also goes out as the
        ``Idempotency-Key`` of a federated call."""
        key = f"{self.tracking.render_guid}:{self.feedback_type.value}"
        return f"{key}:{quote(self.action, safe='')}" if self.action is not None else key

    @classmethod
    def from_json(cls, data: object) -> FeedbackBody:
        """The body in ``data``; raises ``FeedbackError`` for any other shape."""
        kind = data.get("feedbackType") if isinstance(data, Mapping) else None
        is_cta = kind == FeedbackType.CTA.value
        fields = _exactly(data, _BODY_KEYS | _CTA_KEYS if is_cta else _BODY_KEYS, "feedback")
        try:
            feedback_type = FeedbackType(_text(fields, "feedbackType"))
            action_type = ActionType(_text(fields, "actionType")) if is_cta else None
        except ValueError as exc:
            raise FeedbackError(str(exc)) from None
        return cls(
            ttl=_integer(fields, "ttl"),
            feedback_type=feedback_type,
            tracking=Tracking.from_json(fields["trackingInfo"]),
            action_type=action_type,
            action=_text(fields, "action") if is_cta else None,
        )


def _exactly(data: object, keys: frozenset[str], what: str) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        raise FeedbackError(f"{what}: expected an object")
    if set(data) != keys:
        got = sorted(map(str, data))
        raise FeedbackError(f"{what}: expected the keys {sorted(keys)}, got {got}")
    return data


def _text(fields: Mapping[str, object], key: str) -> str:
    value = fields[key]
    if not isinstance(value, str) or not value:
        raise FeedbackError(f"{key}: expected a non-empty string")
    return value


def _integer(fields: Mapping[str, object], key: str) -> int:
    value = fields[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise FeedbackError(f"{key}: expected an integer")
    return value


def _maybe_integer(fields: Mapping[str, object], key: str) -> int | None:
    return None if fields[key] is None else _integer(fields, key)
