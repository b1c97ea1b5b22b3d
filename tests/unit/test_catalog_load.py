"""The example catalog loads, and its files become the expected core values."""

from datetime import time, timedelta
from pathlib import Path

from clarion.catalog import Catalog, check_catalog, load_catalog
from clarion.core.model import Channel, Profile
from clarion.core.segment import Subject
from clarion.core.spec import Audience, Cap, ChannelMode, LocalWindow

EXAMPLE = Path(__file__).parents[2] / "catalog"


def load() -> Catalog:
    return load_catalog(EXAMPLE)


def test_example_catalog_has_no_issues() -> None:
    assert check_catalog(EXAMPLE) == []


def test_example_catalog_messages_and_locales() -> None:
    catalog = load()
    assert sorted(catalog.spec.messages) == [
        "add_phone",
        "continue_watching",
        "new_season",
        "password_reset",
        "payment_failed",
        "signup_dropoff",
        "top_pick",
    ]
    assert catalog.locales == ("en", "es", "pt", "pt-BR")
    assert catalog.root == EXAMPLE


def test_policy() -> None:
    policy = load().spec.policy
    assert policy.default_locale == "en"
    assert policy.quiet_hours == LocalWindow(time(22), time(8))
    assert policy.global_caps[0] == Cap("global:6/1d", 6, timedelta(days=1))
    assert policy.channel_caps[Channel.PUSH] == (Cap("channel:push:3/1d", 3, timedelta(days=1)),)


def test_payment_failed() -> None:
    spec = load().message("payment_failed")
    assert (spec.id, spec.category, spec.trigger) == (1001, "account", "payment.failed")
    assert spec.transactional
    assert spec.channel_mode is ChannelMode.ALL
    assert [s.channel for s in spec.channels] == [
        Channel.INAPP,
        Channel.PUSH,
        Channel.EMAIL,
        Channel.SMS,
    ]
    assert [s.index for s in spec.channels] == [0, 1, 2, 3]
    inapp = spec.channels[0]
    assert inapp.content["body"] == "payment_failed.alert.body"
    assert inapp.platforms == frozenset({"web", "ios", "android", "tv"})
    assert inapp.inapp is not None and inapp.inapp.template == "standard"
    assert inapp.inapp.blocked_pages == ("/account/payment",)
    assert spec.example is not None and spec.example.event["show_title"] == "Stranger Things"
    assert spec.goal is not None and spec.goal.event == "payment.updated"
    assert spec.goal.within == timedelta(days=7)
    assert spec.cancel_events == ("payment.updated",)
    assert spec.condition is not None
    assert spec.condition({"amount": 15.49}) and not spec.condition({"amount": 0})
    assert spec.source == "messages/payment_failed.yaml"


def test_new_season() -> None:
    spec = load().message("new_season")
    assert spec.audience is Audience.ACCOUNT
    assert spec.dedup is not None and spec.dedup.key == ("show_id",)
    assert spec.dedup.window == timedelta(days=30)
    assert spec.caps == (Cap("message:new_season:1/7d", 1, timedelta(days=7)),)
    assert spec.timing.window == LocalWindow(time(9), time(21))
    assert [s.channel for s in spec.channels] == [Channel.PUSH]
    assert spec.segment is not None
    event = {"show_id": "dark"}
    assert spec.segment(Subject(Profile("p1", attributes={"watchlist": ["dark"]}), event))
    assert not spec.segment(Subject(Profile("p1", attributes={"watchlist": ["ozark"]}), event))
    assert not spec.segment(Subject(Profile("p2"), event))


def test_continue_watching_and_signup_dropoff() -> None:
    catalog = load()
    watching = catalog.message("continue_watching")
    assert watching.channel_mode is ChannelMode.FIRST
    assert watching.timing.delay == timedelta(hours=2)
    assert watching.timing.cancel_on == ("play.started",)
    dropoff = catalog.message("signup_dropoff")
    assert (dropoff.id, dropoff.category) == (3001, "onboarding")
    assert [s.channel for s in dropoff.channels] == [Channel.EMAIL, Channel.SMS]
    assert dropoff.timing.delay == timedelta(hours=24)
    assert dropoff.timing.expires_after == timedelta(hours=72)
    assert dropoff.timing.cancel_on == ("signup.completed",)


def test_missing_translations_lists_pt_br_gaps_only() -> None:
    missing = load().missing_translations()
    assert missing["es"] == [] and missing["pt"] == []
    assert "payment_failed.alert.title" in missing["pt-BR"]
    assert "payment_failed.alert.body" not in missing["pt-BR"]
    assert missing["pt-BR"] == sorted(missing["pt-BR"])


def test_add_phone() -> None:
    spec = load().message("add_phone")
    assert (spec.id, spec.category, spec.trigger) == (1002, "account", "account.phone_missing")
    assert spec.goal is not None and spec.goal.event == "phone.added"
    (step,) = spec.channels
    inapp = step.inapp
    assert inapp is not None and inapp.blocked_pages == ("/account/phone",)
    assert inapp.dismiss is not None and inapp.dismiss.suppress_for == timedelta(days=1)
    assert inapp.follow_up is not None and inapp.follow_up.after_impressions == 3
    assert inapp.follow_up.template == "banner" and inapp.follow_up.platforms == {"web"}
    assert not inapp.eligible("tv", "1.0")
    assert inapp.eligible("android", "9.0.1") and not inapp.eligible("android", "9.0")
    assert spec.segment is not None
    assert spec.segment(Subject(Profile("p1"), {}))
    assert not spec.segment(Subject(Profile("p1", phone="+15551234567"), {}))
