"""Assembling the in-app payload contract (DESIGN.md section 5) from rendered copy.

The UI draws what it receives without knowing the message: a template id, copy
as typed elements, CTAs with what they do, and opaque feedback objects to post
back. Feedback objects are made by the injected ``feedback`` function (the
service signs them; see ``clarion.inapp.feedback``), so this module stays pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final

from clarion.core.inapp_spec import ActionType, InAppSpec
from clarion.core.markup import parse
from clarion.core.model import JSONObject
from clarion.core.tracking import FeedbackBody, FeedbackType, Tracking

#: Turns a feedback body into the opaque object the device posts back.
Feedback = Callable[[FeedbackBody], JSONObject]
#: How long a device may post feedback after a fetch: a TV may keep an alert on
#: screen for hours, and devices fetch again long before a day has passed.
DEFAULT_FEEDBACK_TTL: Final = timedelta(days=1)
#: The template id of every notification-center item.
NOTIFICATION_TEMPLATE: Final = "notification"
#: Image URLs reach every platform as they are: the web and apps only, no ``data:``.
_IMAGE_SCHEMES: Final = ("https://", "/")


def is_image_url(url: str) -> bool:
    """Whether ``url`` may reach a device as an image: ``https://`` or an app path."""
    return url.startswith(_IMAGE_SCHEMES)


def copy(text: str) -> dict[str, object]:
    """A copy block: ``{"copy": [elements]}`` from copy markup."""
    return {"copy": [dict(element) for element in _elements(text)]}


@lru_cache(maxsize=4096)
def _elements(text: str) -> tuple[Mapping[str, str], ...]:
    """The contract's elements of copy markup ``text``, parsed once per distinct text.

    Every fetch assembles the same strings again (most copy is static, and
    rendered copy repeats across profiles); parsing is a pure function of the
    text, so nothing needs invalidating when the catalog changes."""
    return tuple(element.to_json() for element in parse(text))


def assemble_alert(
    spec: InAppSpec,
    fields: Mapping[str, str],
    tracking: Tracking,
    feedback: Feedback,
    *,
    feedback_ttl: timedelta = DEFAULT_FEEDBACK_TTL,
) -> dict[str, object]:
    """One alert of a fetch response, from its step's rendered ``fields``.

    ``fields`` holds every content field the spec names (``Catalog.render`` gives
    them all; a missing one is a ``KeyError``). ``tracking.template_id`` must be
    the spec's template, since the service reads it back from feedback.
    """
    if tracking.template_id != spec.template.value:
        raise ValueError(
            f"tracking names template {tracking.template_id!r}, the spec {spec.template.value!r}"
        )
    ttl = _seconds(feedback_ttl)
    template: dict[str, object] = {}
    if spec.title is not None:
        template["title"] = copy(fields[spec.title])
    template["body"] = copy(fields[spec.body])
    template["ctas"] = [
        {
            "actionType": cta.action_type.value,
            "action": cta.action,
            "ctaType": cta.cta_type.value,
            "copy": copy(fields[cta.field])["copy"],
            "isSelected": cta.selected,
            "ctaFeedback": feedback(
                FeedbackBody(ttl, FeedbackType.CTA, tracking, cta.action_type, cta.action)
            ),
        }
        for cta in spec.ctas
    ]
    if spec.footer is not None:
        template["footer"] = copy(fields[spec.footer])
    return {
        "templateId": spec.template.value,
        "template": template,
        "attributes": {
            "blockedPages": list(spec.blocked_pages),
            "impressionFeedback": feedback(FeedbackBody(ttl, FeedbackType.IMPRESSION, tracking)),
        },
    }


def alerts_response(alerts: Sequence[Mapping[str, object]]) -> dict[str, object]:
    """The body of a fetch: ``{"alerts": [...]}``, most important first."""
    return {"alerts": list(alerts)}


@dataclass(frozen=True, slots=True)
class NotificationAction:
    """Where a click on a notification leads (e.g. ``REDIRECT`` to ``/title/dark``)."""

    action_type: ActionType
    action: str


@dataclass(frozen=True, slots=True)
class Notification:
    """A notification-center item with its rendered copy (markup) and per-profile state.

    ``created_at`` must be timezone-aware; ``image`` is an image URL.
    """

    guid: str
    created_at: datetime
    title: str
    body: str
    read: bool = False
    archived: bool = False
    image: str | None = None
    action: NotificationAction | None = None


def assemble_notification(
    item: Notification,
    tracking: Tracking,
    feedback: Feedback,
    *,
    feedback_ttl: timedelta = DEFAULT_FEEDBACK_TTL,
) -> dict[str, object]:
    """One item of the notification center.

    A click on the item posts ``action.actionFeedback`` (a ``cta`` body); showing
    it posts ``impressionFeedback``. Read and archived state change through the
    notification-center API, not through feedback, so it is the same on every
    device. An image URL that is neither ``https://`` nor app-relative is left out.
    """
    if item.created_at.tzinfo is None:
        raise ValueError("created_at must be timezone-aware")
    if tracking.template_id != NOTIFICATION_TEMPLATE:
        raise ValueError(f"tracking of a notification names template {tracking.template_id!r}")
    ttl = _seconds(feedback_ttl)
    template: dict[str, object] = {"title": copy(item.title), "body": copy(item.body)}
    if item.image and is_image_url(item.image):
        template["image"] = item.image
    if item.action is not None:
        kind, action = item.action.action_type, item.action.action
        template["action"] = {
            "actionType": kind.value,
            "action": action,
            "actionFeedback": feedback(FeedbackBody(ttl, FeedbackType.CTA, tracking, kind, action)),
        }
    return {
        "guid": item.guid,
        "createdAt": item.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "read": item.read,
        "archived": item.archived,
        "templateId": NOTIFICATION_TEMPLATE,
        "template": template,
        "impressionFeedback": feedback(FeedbackBody(ttl, FeedbackType.IMPRESSION, tracking)),
    }


def notifications_response(
    items: Sequence[Mapping[str, object]], unread_count: int, next_cursor: str | None
) -> dict[str, object]:
    """A page of the notification center, newest first, with the badge count.

    ``unreadCount`` counts the whole center, not the page; ``nextCursor`` is
    ``null`` on the last page.
    """
    return {"notifications": list(items), "unreadCount": unread_count, "nextCursor": next_cursor}


def _seconds(span: timedelta) -> int:
    seconds = int(span.total_seconds())
    if seconds <= 0:
        raise ValueError("feedback ttl must be at least one second")
    return seconds
