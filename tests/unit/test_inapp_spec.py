"""The in-app spec's own rules: device eligibility, blocked pages, the follow-up alert."""

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from clarion.core.inapp_spec import (
    ActionType,
    Cta,
    FollowUp,
    InAppSpec,
    Platform,
    Template,
)
from clarion.core.versions import VersionRange

SPEC = InAppSpec(
    template=Template.STANDARD,
    ctas=(Cta("cta_add", ActionType.REDIRECT, "ADD_PHONE", selected=True),),
    platforms=frozenset({Platform.WEB, Platform.IOS, Platform.ANDROID}),
    app_versions={
        Platform.IOS: VersionRange.parse(">=16.0"),
        Platform.ANDROID: VersionRange.parse(">=8.2 <9"),
    },
    blocked_pages=("/account/phone", "/signup/"),
    ttl=timedelta(days=30),
    follow_up=FollowUp(
        3, Template.BANNER, frozenset({Platform.WEB, Platform.IOS}), {"body": "k.b"}
    ),
)


def test_eligible_platforms_and_versions() -> None:
    assert SPEC.eligible("web", None)  # no range for web: any version
    assert SPEC.eligible("ios", "16.1")
    assert not SPEC.eligible("ios", "15.7")
    assert not SPEC.eligible("ios", None)  # a range needs a known version
    assert SPEC.eligible("android", "8.4.2")
    assert not SPEC.eligible("android", "9.0")
    assert not SPEC.eligible("tv", "1.0")
    assert not SPEC.eligible("fridge", "1.0")


def test_blocked_pages_cover_themselves_and_pages_below() -> None:
    assert SPEC.blocks("/account/phone")
    assert SPEC.blocks("/account/phone/")
    assert SPEC.blocks("/account/phone/verify?step=2")
    assert SPEC.blocks("/account/phone#top")
    assert SPEC.blocks("/signup")  # a trailing slash in the declaration changes nothing
    assert not SPEC.blocks("/account/phones")
    assert not SPEC.blocks("/account")
    assert not SPEC.blocks("/")
    assert not SPEC.blocks(None)
    assert not SPEC.blocks("")
    assert not InAppSpec().blocks("/anything")


@given(st.text())
def test_blocks_never_raises(page: str) -> None:
    assert SPEC.blocks(page) in (True, False)


def test_follow_up_spec_narrows_template_and_platforms() -> None:
    follow = SPEC.follow_up_spec()
    assert follow is not None
    assert follow.template is Template.BANNER
    assert follow.platforms == {Platform.WEB, Platform.IOS}
    assert set(follow.app_versions) == {Platform.IOS}
    assert follow.follow_up is None
    assert follow.ctas == SPEC.ctas and follow.blocked_pages == SPEC.blocked_pages
    assert not follow.eligible("android", "8.4")
    assert InAppSpec().follow_up_spec() is None


def test_follow_up_content_replaces_only_named_fields() -> None:
    content = {"title": "k.t", "body": "k.body", "cta_add": "k.c"}
    assert SPEC.follow_up_content(content) == {"title": "k.t", "body": "k.b", "cta_add": "k.c"}
    assert InAppSpec().follow_up_content(content) == content
