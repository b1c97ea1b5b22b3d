"""The in-app payload contract (DESIGN.md section 5) as pydantic models and JSON Schema.

The models are the one source: FastAPI puts them in the OpenAPI document (as a
route's ``response_model``, or in ``responses=`` to document a route that
returns prepared JSON), and ``ALERTS_RESPONSE_SCHEMA`` and
``NOTIFICATIONS_RESPONSE_SCHEMA`` are their JSON Schema (draft 2020-12) for UI
teams and tests. Every object is closed (``additionalProperties: false``) except
feedback objects, which are opaque to the UI: it posts them back unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema

from clarion.core.inapp_spec import ActionType, CtaType, Template

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

#: A feedback object: signed by the service, posted back by the UI as it came.
FeedbackObject = Annotated[
    dict[str, Any],
    Field(description="Opaque to the UI: post it back unchanged with the device's context."),
]


class _Contract(BaseModel):
    """Closed objects with the contract's camelCase member names."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        field_title_generator=lambda name, _: to_camel(name.rstrip("_")),
    )


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _image_schema(schema: dict[str, Any]) -> None:
    schema.pop("default", None)
    schema["format"] = "uri-reference"  # https:// or an app path


def _omitted() -> Any:
    """The default of a member that is left out rather than sent as ``null``."""
    return Field(default=None, json_schema_extra=_drop_default)


class TextElement(_Contract):
    """Plain or bold text, or a line break (``content`` is then a newline)."""

    element_type: Literal["TEXT", "BOLD", "NEWLINE"]
    content: str


class LinkElement(_Contract):
    """A link: ``content`` is its text."""

    element_type: Literal["LINK"]
    content: str
    url: str = Field(json_schema_extra={"format": "uri-reference"})


#: Told apart by ``elementType``: only a LINK element has (and needs) a ``url``.
CopyElement = TextElement | LinkElement


class CopyBlock(_Contract):
    """Localized copy as typed elements; nothing else reaches the UI."""

    copy_: list[CopyElement] = Field(alias="copy")


class AlertCta(_Contract):
    """A call to action; ``isSelected`` marks the one highlighted by default."""

    action_type: ActionType
    action: str
    cta_type: CtaType
    copy_: list[CopyElement] = Field(alias="copy")
    is_selected: bool
    cta_feedback: FeedbackObject


class AlertTemplate(_Contract):
    """The elements of an alert; a template without a title or footer leaves it out."""

    title: CopyBlock | SkipJsonSchema[None] = _omitted()
    body: CopyBlock
    ctas: list[AlertCta]
    footer: CopyBlock | SkipJsonSchema[None] = _omitted()


class AlertAttributes(_Contract):
    """How to show the alert: pages (path prefixes) it must not cover, and the
    feedback to post once it is shown."""

    blocked_pages: list[str]
    impression_feedback: FeedbackObject


class Alert(_Contract):
    """One alert; ``templateId`` tells the UI which design draws it."""

    template_id: Template
    template: AlertTemplate
    attributes: AlertAttributes


class AlertsResponse(_Contract):
    """A device's alerts, most important first."""

    alerts: list[Alert]


class NotificationAction(_Contract):
    """Where a click leads; ``actionFeedback`` is posted on the click."""

    action_type: ActionType
    action: str
    action_feedback: FeedbackObject


class NotificationTemplate(_Contract):
    """A notification's copy, an optional image URL and an optional click action."""

    title: CopyBlock
    body: CopyBlock
    image: str | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_image_schema)
    action: NotificationAction | SkipJsonSchema[None] = _omitted()


class NotificationItem(_Contract):
    """One notification; ``read`` and ``archived`` are the profile's, on every device."""

    guid: str
    created_at: AwareDatetime
    read: bool
    archived: bool
    template_id: Literal["notification"]
    template: NotificationTemplate
    impression_feedback: FeedbackObject


class NotificationsResponse(_Contract):
    """A page of the notification center, newest first, with the unread count for a badge
    (over the whole center) and the cursor of the next page (``null`` on the last)."""

    notifications: list[NotificationItem]
    unread_count: int = Field(ge=0)
    next_cursor: str | None


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON Schema as a standalone draft 2020-12 document."""
    return {"$schema": SCHEMA_DIALECT, **model.model_json_schema(by_alias=True)}


ALERTS_RESPONSE_SCHEMA: Final = json_schema(AlertsResponse)
NOTIFICATIONS_RESPONSE_SCHEMA: Final = json_schema(NotificationsResponse)
