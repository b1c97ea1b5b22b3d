"""The contract as JSON Schema: every assembled payload of the example catalog validates."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator

from clarion.catalog import load_catalog
from clarion.catalog.example import example_context
from clarion.core.inapp_spec import ActionType, Template
from clarion.core.payload import (
    Notification,
    NotificationAction,
    alerts_response,
    assemble_alert,
    assemble_notification,
    notifications_response,
)
from clarion.inapp import FeedbackSigner
from clarion.inapp.contract import (
    ALERTS_RESPONSE_SCHEMA,
    NOTIFICATIONS_RESPONSE_SCHEMA,
    AlertsResponse,
    NotificationsResponse,
)
from tests.unit.inapp_fixtures import EXAMPLE, KEY, tracking

CATALOG = load_catalog(EXAMPLE)
SIGNER = FeedbackSigner({"k1": KEY}, "k1", lambda: datetime(2024, 5, 1, tzinfo=UTC))
ALERTS = Draft202012Validator(ALERTS_RESPONSE_SCHEMA)
NOTIFICATIONS = Draft202012Validator(NOTIFICATIONS_RESPONSE_SCHEMA)
#: The catalog's locales, and readers whose locale falls back (pt-PT, fr -> en).
READERS = (*CATALOG.locales, "pt-PT", "fr")


def every_alert() -> Iterator[tuple[str, dict[str, object]]]:
    for name, spec in sorted(CATALOG.spec.messages.items()):
        for step in spec.channels:
            if step.inapp is None or step.inapp.template is Template.NOTIFICATION:
                continue  # notification-center items have their own test below
            follow = step.inapp.follow_up_spec()
            for locale in READERS:
                context = example_context(spec, locale)
                fields = CATALOG.render(name, step.index, locale, context).fields
                info = tracking(step.inapp.template.value, message_name=name, locale=locale)
                yield f"{name}/{locale}", assemble_alert(step.inapp, fields, info, SIGNER.sign)
                if follow is not None:
                    fields = CATALOG.render_follow_up(name, step.index, locale, context).fields
                    info = tracking(follow.template.value, message_name=name, locale=locale)
                    yield (
                        f"{name}/{locale}/follow-up",
                        assemble_alert(follow, fields, info, SIGNER.sign),
                    )


def test_schemas_are_valid_draft_2020_12() -> None:
    for schema in (ALERTS_RESPONSE_SCHEMA, NOTIFICATIONS_RESPONSE_SCHEMA):
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_alert_of_the_example_catalog_in_every_locale_validates() -> None:
    alerts = dict(every_alert())
    # add_phone and payment_failed, each with a follow-up, for 6 readers.
    assert len(alerts) == 2 * 2 * len(READERS)
    for where, alert in alerts.items():
        response = alerts_response([alert])
        errors = [e.message for e in ALERTS.iter_errors(response)]
        assert errors == [], where
        assert AlertsResponse.model_validate(response).alerts[0].template_id == alert["templateId"]
    assert all(SIGNER.verify(a["attributes"]["impressionFeedback"]) for a in alerts.values())  # type: ignore[index]


def an_alert() -> dict[str, Any]:
    return next(iter(every_alert()))[1]


@pytest.mark.parametrize(
    "spoil",
    [
        lambda a: a["template"]["footer"]["copy"][0].pop("url"),  # a LINK needs its url
        lambda a: a["template"]["body"]["copy"][0].update(elementType="ITALIC"),
        lambda a: a["template"]["body"]["copy"][0].update(url="https://x"),  # only LINK has one
        lambda a: a["template"].pop("body"),
        lambda a: a["template"].update(image="x"),  # closed object
        lambda a: a["template"]["ctas"][0].update(ctaType="ICON"),
        lambda a: a["template"]["ctas"][0].update(isSelected="yes"),
        lambda a: a["template"]["ctas"][0].pop("ctaFeedback"),
        lambda a: a.update(templateId="popup"),
        lambda a: a["attributes"].pop("impressionFeedback"),
        lambda a: a["template"].update(title=None),  # left out, never null
    ],
)
def test_schema_rejects(spoil: Any) -> None:
    alert = an_alert()
    assert ALERTS.is_valid({"alerts": [alert]})
    spoil(alert)
    assert not ALERTS.is_valid({"alerts": [alert]})


def test_notifications_validate() -> None:
    info = tracking("notification")
    items = [
        assemble_notification(
            Notification(
                "N1",
                datetime(2024, 5, 1, tzinfo=UTC),
                "**Dark** is back",
                "Season 3 is here.",
                image="https://img.example.com/dark.jpg",
                action=NotificationAction(ActionType.REDIRECT, "/title/dark"),
            ),
            info,
            SIGNER.sign,
        ),
        assemble_notification(
            Notification("N0", datetime(2024, 4, 1, tzinfo=UTC), "Hi", "There", read=True),
            info,
            SIGNER.sign,
        ),
    ]
    page = notifications_response(items, unread_count=1, next_cursor="abc")
    assert [e.message for e in NOTIFICATIONS.iter_errors(page)] == []
    assert NotificationsResponse.model_validate(page).unread_count == 1
    assert not NOTIFICATIONS.is_valid({**page, "unreadCount": -1})
    assert not NOTIFICATIONS.is_valid({**page, "nextCursor": 3})
    assert NOTIFICATIONS.is_valid({**page, "nextCursor": None, "notifications": []})


def test_models_document_a_fastapi_route() -> None:
    app = FastAPI()

    @app.get("/v1/inapp/alerts", responses={200: {"model": AlertsResponse}})
    def alerts() -> dict[str, object]:
        return {"alerts": []}

    @app.get("/v1/inapp/notifications", response_model=NotificationsResponse)
    def notifications() -> dict[str, object]:
        return {"notifications": [], "unreadCount": 0, "nextCursor": None}

    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert {"AlertsResponse", "Alert", "AlertCta", "LinkElement", "NotificationsResponse"} <= set(
        schemas
    )
    assert "url" in schemas["LinkElement"]["required"]


def test_every_notification_of_the_example_catalog_validates() -> None:
    spec = CATALOG.spec.messages["top_pick"]
    [step] = spec.channels
    assert step.inapp is not None and step.inapp.image == "image"
    for locale in READERS:
        fields = CATALOG.render("top_pick", 0, locale, example_context(spec, locale)).fields
        item = Notification(
            guid="G" * 40,
            created_at=datetime(2024, 5, 1, tzinfo=UTC),
            title=fields["title"],
            body=fields["body"],
            image=fields["image"],
            action=NotificationAction(step.inapp.ctas[0].action_type, step.inapp.ctas[0].action),
        )
        info = tracking("notification", message_name="top_pick", locale=locale)
        response = notifications_response(
            [assemble_notification(item, info, SIGNER.sign)], unread_count=1, next_cursor=None
        )
        assert [e.message for e in NOTIFICATIONS.iter_errors(response)] == [], locale
