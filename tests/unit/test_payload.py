"""Assembling alerts and notification-center items in the contract's exact shape."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from clarion.catalog import load_catalog
from clarion.catalog.example import example_context
from clarion.core.inapp_spec import ActionType, InAppSpec, Template
from clarion.core.payload import (
    Notification,
    NotificationAction,
    alerts_response,
    assemble_alert,
    assemble_notification,
    copy,
    notifications_response,
)
from clarion.core.tracking import FeedbackBody
from tests.unit.inapp_fixtures import EXAMPLE, echo, tracking


def opaque(body: FeedbackBody) -> dict[str, object]:
    label = body.feedback_type.value + (f":{body.action}" if body.action else "")
    return {"...": label}


def payment_failed_alert(locale: str = "en") -> dict[str, object]:
    catalog = load_catalog(EXAMPLE)
    spec = catalog.message("payment_failed")
    rendered = catalog.render("payment_failed", 0, locale, example_context(spec, locale))
    assert spec.channels[0].inapp is not None
    return assemble_alert(spec.channels[0].inapp, rendered.fields, tracking(), opaque)


def test_the_design_document_example() -> None:
    assert alerts_response([payment_failed_alert()]) == {
        "alerts": [
            {
                "templateId": "standard",
                "template": {
                    "title": {
                        "copy": [
                            {"elementType": "TEXT", "content": "Your payment didn't go through"}
                        ]
                    },
                    "body": {
                        "copy": [
                            {
                                "elementType": "TEXT",
                                "content": "Update your payment method to keep watching ",
                            },
                            {"elementType": "BOLD", "content": "Stranger Things"},
                            {"elementType": "TEXT", "content": "."},
                        ]
                    },
                    "ctas": [
                        {
                            "actionType": "REDIRECT",
                            "action": "UPDATE_PAYMENT",
                            "ctaType": "BUTTON",
                            "copy": [{"elementType": "TEXT", "content": "Update payment"}],
                            "isSelected": True,
                            "ctaFeedback": {"...": "cta:UPDATE_PAYMENT"},
                        },
                        {
                            "actionType": "DISMISS",
                            "action": "DISMISS_ALERT",
                            "ctaType": "LINK",
                            "copy": [{"elementType": "TEXT", "content": "Not now"}],
                            "isSelected": False,
                            "ctaFeedback": {"...": "cta:DISMISS_ALERT"},
                        },
                    ],
                    "footer": {
                        "copy": [
                            {
                                "elementType": "LINK",
                                "content": "Help Center",
                                "url": "https://help.example.com/payments",
                            }
                        ]
                    },
                },
                "attributes": {
                    "blockedPages": ["/account/payment"],
                    "impressionFeedback": {"...": "impression"},
                },
            }
        ]
    }


def test_feedback_bodies_carry_tracking_and_the_cta() -> None:
    spec = InAppSpec(title=None, footer=None)
    alert = assemble_alert(spec, {"body": "Hi"}, tracking(), echo, feedback_ttl=timedelta(hours=1))
    impression = alert["attributes"]["impressionFeedback"]  # type: ignore[index]
    assert impression == {
        "ttl": 3600,
        "feedbackType": "impression",
        "trackingInfo": {
            "messageGuid": "786DECAE429EEB029EEE057191675F6764555F12",
            "eventGuid": "D6AC068F169C0E616E99AF1C72F1AD8264555F12",
            "renderGuid": "85661FCF-0857-42A7-AA0E-559A26A5723B_R",
            "messageName": "payment_failed",
            "messageId": 1001,
            "locale": "en",
            "abTestId": 2222,
            "abTestCell": 2,
            "templateId": "standard",
        },
    }
    full = payment_failed_alert()
    dismiss = full["template"]["ctas"][1]["ctaFeedback"]  # type: ignore[index]
    assert dismiss == {"...": "cta:DISMISS_ALERT"}


def test_cta_feedback_names_action() -> None:
    catalog = load_catalog(EXAMPLE)
    spec = catalog.message("add_phone")
    fields = catalog.render("add_phone", 0, "es", example_context(spec, "es")).fields
    assert spec.channels[0].inapp is not None
    alert = assemble_alert(spec.channels[0].inapp, fields, tracking(), echo)
    cta = alert["template"]["ctas"][0]["ctaFeedback"]  # type: ignore[index]
    assert (cta["feedbackType"], cta["actionType"], cta["action"]) == (
        "cta",
        "REDIRECT",
        "ADD_PHONE",
    )
    assert cta["ttl"] == 86400
    body = alert["template"]["body"]["copy"]  # type: ignore[index]
    assert [e["elementType"] for e in body] == ["TEXT", "NEWLINE", "TEXT", "BOLD", "TEXT"]


def test_absent_title_and_footer_are_left_out() -> None:
    alert = assemble_alert(
        InAppSpec(template=Template.BANNER, title=None, footer=None),
        {"body": "Add a phone number."},
        tracking("banner"),
        echo,
    )
    assert alert["templateId"] == "banner"
    assert set(alert["template"]) == {"body", "ctas"}  # type: ignore[call-overload]
    assert alert["template"]["ctas"] == []  # type: ignore[index]
    assert alert["attributes"]["blockedPages"] == []  # type: ignore[index]


def test_follow_up_assembles_with_its_template() -> None:
    catalog = load_catalog(EXAMPLE)
    spec = catalog.message("add_phone")
    inapp = spec.channels[0].inapp
    assert inapp is not None
    follow = inapp.follow_up_spec()
    assert follow is not None
    rendered = catalog.render_follow_up("add_phone", 0, "pt-BR", example_context(spec, "pt-BR"))
    alert = assemble_alert(follow, rendered.fields, tracking("banner", locale="pt-BR"), echo)
    assert alert["templateId"] == "banner"
    title = alert["template"]["title"]  # type: ignore[index]
    assert title == {"copy": [{"elementType": "TEXT", "content": "Mantenha sua conta segura"}]}


def test_tracking_must_name_the_spec_template() -> None:
    with pytest.raises(ValueError, match="banner"):
        assemble_alert(InAppSpec(title=None, footer=None), {"body": "x"}, tracking("banner"), echo)


def test_missing_field_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        assemble_alert(InAppSpec(), {"body": "x"}, tracking(), echo)


def test_copy_of_markup() -> None:
    assert copy("a\n[b](/x)") == {
        "copy": [
            {"elementType": "TEXT", "content": "a"},
            {"elementType": "NEWLINE", "content": "\n"},
            {"elementType": "LINK", "content": "b", "url": "/x"},
        ]
    }


def notification(**changes: object) -> Notification:
    values: dict[str, object] = {
        "guid": "N1",
        "created_at": datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=-3))),
        "title": "**Dark** season 3",
        "body": "All episodes are here.",
        "image": "https://img.example.com/dark.jpg",
        "action": NotificationAction(ActionType.REDIRECT, "/title/dark"),
    }
    return Notification(**{**values, **changes})  # type: ignore[arg-type]


def test_notification_item() -> None:
    item = assemble_notification(notification(), tracking("notification"), opaque)
    assert item == {
        "guid": "N1",
        "createdAt": "2024-05-01T12:30:00Z",
        "read": False,
        "archived": False,
        "templateId": "notification",
        "template": {
            "title": {
                "copy": [
                    {"elementType": "BOLD", "content": "Dark"},
                    {"elementType": "TEXT", "content": " season 3"},
                ]
            },
            "body": {"copy": [{"elementType": "TEXT", "content": "All episodes are here."}]},
            "image": "https://img.example.com/dark.jpg",
            "action": {
                "actionType": "REDIRECT",
                "action": "/title/dark",
                "actionFeedback": {"...": "cta:/title/dark"},
            },
        },
        "impressionFeedback": {"...": "impression"},
    }


def test_notification_without_image_or_action_and_unsafe_image() -> None:
    bare = assemble_notification(
        notification(image=None, action=None), tracking("notification"), echo
    )
    assert set(bare["template"]) == {"title", "body"}  # type: ignore[call-overload]
    unsafe = notification(image="javascript:alert(1)", read=True)
    item = assemble_notification(unsafe, tracking("notification"), echo)
    assert "image" not in item["template"] and item["read"] is True  # type: ignore[operator]


def test_notification_needs_aware_time_and_its_template() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        assemble_notification(
            notification(created_at=datetime(2024, 5, 1)), tracking("notification"), echo
        )
    with pytest.raises(ValueError, match="standard"):
        assemble_notification(notification(), tracking(), echo)


def test_notifications_response() -> None:
    item = assemble_notification(notification(), tracking("notification"), echo)
    page = notifications_response([item], unread_count=4, next_cursor=None)
    assert page == {"notifications": [item], "unreadCount": 4, "nextCursor": None}


def test_feedback_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError):
        assemble_alert(
            InAppSpec(title=None, footer=None),
            {"body": "x"},
            tracking(),
            echo,
            feedback_ttl=timedelta(0),
        )


def test_created_at_in_utc() -> None:
    item = assemble_notification(
        notification(created_at=datetime(2024, 1, 2, 3, 4, 5, 999, tzinfo=UTC)),
        tracking("notification"),
        echo,
    )
    assert item["createdAt"] == "2024-01-02T03:04:05Z"
