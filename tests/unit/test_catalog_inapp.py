"""In-app steps: options become an InAppSpec at load; every mistake names file and key."""

from datetime import timedelta
from pathlib import Path

import pytest

from clarion.catalog import (
    CatalogError,
    CatalogIssue,
    RenderError,
    check_catalog,
    load_catalog,
)
from clarion.core.contracts import PushOptions
from clarion.core.inapp_spec import (
    ActionType,
    CtaType,
    DismissRule,
    DismissScope,
    Platform,
    Template,
)

EXAMPLE = Path(__file__).parents[2] / "catalog"
FILE = "messages/alert.yaml"
STRINGS = """\
alert:
  title: Add a phone number
  body: Keep your account **safe**.
  yes: Add phone
  no: Not now
  footer: "[Why](https://help.example.com)"
  short: Add a phone number.
"""
OPTIONS = """\
      template: standard
      ctas:
        - {field: add, action_type: REDIRECT, action: ADD_PHONE, selected: true}
        - {field: later, action_type: DISMISS, action: DISMISS_ALERT, cta_type: LINK}
      app_versions: {ios: ">=16.0"}
      blocked_pages: [/account/phone]
      ttl: 30d
      dismiss: {suppress_for: 1d}
      follow_up:
        {after_impressions: 3, template: banner, platforms: [web], fields: {body: alert.short}}
"""


def message(options: str = OPTIONS, content: str = "", platforms: str = "[web, ios]") -> str:
    fields = content or (
        "      title: alert.title\n      body: alert.body\n      add: alert.yes\n"
        "      later: alert.no\n      footer: alert.footer\n"
    )
    return (
        "name: alert\nid: 1\ncategory: account\ntrigger: {event: phone.missing}\nchannels:\n"
        f"  - channel: inapp\n    platforms: {platforms}\n    content:\n{fields}"
        f"    options:\n{options}"
    )


def write(root: Path, text: str) -> Path:
    (root / "messages").mkdir(exist_ok=True)
    (root / "strings").mkdir(exist_ok=True)
    (root / FILE).write_text(text, encoding="utf-8")
    (root / "strings" / "en.yaml").write_text(STRINGS, encoding="utf-8")
    return root


def issues(tmp_path: Path, text: str) -> list[CatalogIssue]:
    found = check_catalog(write(tmp_path, text))
    assert all(i.file == FILE for i in found), found
    return found


def only_issue(tmp_path: Path, text: str) -> tuple[str, str]:
    found = issues(tmp_path, text)
    assert len(found) == 1, found
    return found[0].key, found[0].problem


def test_full_declaration(tmp_path: Path) -> None:
    spec = load_catalog(write(tmp_path, message())).message("alert").channels[0].inapp
    assert spec is not None
    assert spec.template is Template.STANDARD
    assert (spec.title, spec.body, spec.footer) == ("title", "body", "footer")
    add, later = spec.ctas
    assert (add.field, add.action_type, add.action, add.cta_type, add.selected) == (
        "add",
        ActionType.REDIRECT,
        "ADD_PHONE",
        CtaType.BUTTON,
        True,
    )
    assert later.cta_type is CtaType.LINK and not later.selected
    assert spec.platforms == {Platform.WEB, Platform.IOS}
    assert spec.app_versions[Platform.IOS].contains("16.2")
    assert spec.blocked_pages == ("/account/phone",)
    assert spec.ttl == timedelta(days=30)
    assert spec.dismiss == DismissRule(timedelta(days=1), DismissScope.MESSAGE)
    assert spec.follow_up is not None
    assert spec.follow_up.platforms == {Platform.WEB}
    assert spec.follow_up.fields == {"body": "alert.short"}


def test_defaults_without_options(tmp_path: Path) -> None:
    text = message(options="", content="      body: alert.body\n").replace("    options:\n", "")
    text = text.replace("platforms: [web, ios]", "platforms: []")
    spec = load_catalog(write(tmp_path, text)).message("alert").channels[0].inapp
    assert spec is not None
    assert spec.template is Template.STANDARD and spec.ctas == ()
    assert (spec.title, spec.footer) == (None, None)
    assert spec.platforms == set(Platform)
    assert spec.ttl is None and spec.dismiss is None and spec.follow_up is None


def test_fields_name_other_content_fields(tmp_path: Path) -> None:
    content = "      headline: alert.title\n      text: alert.body\n"
    options = "      template: banner\n      fields: {title: headline, body: text}\n"
    spec = load_catalog(write(tmp_path, message(options, content))).message("alert")
    inapp = spec.channels[0].inapp
    assert inapp is not None and (inapp.title, inapp.body, inapp.footer) == (
        "headline",
        "text",
        None,
    )


def test_other_channels_have_no_inapp_spec() -> None:
    spec = load_catalog(EXAMPLE).message("payment_failed")
    assert [s.inapp is not None for s in spec.channels] == [True, False, False, False]
    assert spec.channels[1].options == PushOptions(deep_link="/account/payment")


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        (("template: standard", "template: popup"), "options.template", "'popup'"),
        (("ttl: 30d", "ttl: 30 days"), "options.ttl", "invalid duration"),
        (("ttl: 30d", "tll: 30d"), "options.tll", "unknown key"),
        (("field: add,", "field: nope,"), "options.ctas[0].field", "'nope' is not a content field"),
        (("action_type: REDIRECT", "action_type: OPEN"), "options.ctas[0].action_type", "'OPEN'"),
        (("cta_type: LINK", "cta_type: ICON"), "options.ctas[1].cta_type", "'ICON'"),
        (("action: ADD_PHONE", "action: add phone"), "options.ctas[0].action", "without spaces"),
        (("selected: true", "selected: yes"), "options.ctas[0].selected", "true or false"),
        (
            ("cta_type: LINK}", "cta_type: LINK, selected: true}"),
            "options.ctas[1].selected",
            "only one CTA may be selected (ctas[0] is)",
        ),
        (('{ios: ">=16.0"}', '{ios: ">=16.0 <"}'), "options.app_versions.ios", "invalid version"),
        (('{ios: ">=16.0"}', '{tv: ">=1"}'), "options.app_versions.tv", "not one of this step's"),
        (('{ios: ">=16.0"}', "{ios: 16}"), "options.app_versions.ios", "non-empty string"),
        (('{ios: ">=16.0"}', '{fridge: "1"}'), "options.app_versions.fridge", "unknown key"),
        (("[/account/phone]", "[account/phone]"), "options.blocked_pages[0]", "starting with '/'"),
        (
            ("{suppress_for: 1d}", "{suppress_for: 1d, scope: world}"),
            "options.dismiss.scope",
            "'world'",
        ),
        (("{suppress_for: 1d}", "{}"), "options.dismiss.suppress_for", "missing required key"),
        (
            ("template: banner,", "template: fullscreen,"),
            "options.follow_up.template",
            "interrupt less",
        ),
        (
            ("platforms: [web], fields", "platforms: [tv], fields"),
            "options.follow_up.platforms[0]",
            "not one of",
        ),
        (
            ("platforms: [web], fields", "platforms: [], fields"),
            "options.follow_up.platforms",
            "at least one",
        ),
        (
            ("after_impressions: 3", "after_impressions: 0"),
            "options.follow_up.after_impressions",
            "positive",
        ),
        (
            ("{body: alert.short}", "{cta: alert.short}"),
            "options.follow_up.fields.cta",
            "unknown key",
        ),
        (
            ("{body: alert.short}", "{body: alert.shorter}"),
            "channels[0].options.follow_up.fields.body",
            "'alert.shorter' is missing from strings/en.yaml",
        ),
        (("[web, ios]", "[web, fridge]"), "platforms[1]", "'fridge'"),
    ],
)
def test_mistakes_name_their_key(
    tmp_path: Path, change: tuple[str, str], key: str, problem: str
) -> None:
    text = message()
    assert change[0] in text, change
    found_key, found_problem = only_issue(tmp_path, text.replace(*change, 1))
    expected = key if key.startswith("channels[") else f"channels[0].{key}"
    assert found_key == expected
    assert problem in found_problem


def test_every_content_field_is_shown_once(tmp_path: Path) -> None:
    extra = message().replace(
        "      footer: alert.footer\n", "      footer: alert.footer\n      note: alert.short\n"
    )
    assert only_issue(tmp_path, extra) == (
        "channels[0].content.note",
        "not shown by the alert: name it in options.fields (title, body, footer, image) "
        "or in a CTA",
    )


def test_a_cta_cannot_reuse_the_body(tmp_path: Path) -> None:
    text = message().replace("field: later,", "field: body,").replace("      later: alert.no\n", "")
    assert only_issue(tmp_path, text) == (
        "channels[0].options.ctas[1].field",
        "'body' is already shown as the body",
    )


def test_an_alert_needs_a_body(tmp_path: Path) -> None:
    text = message().replace("      body: alert.body\n", "").replace("{body: alert.short}", "{}")
    key, problem = only_issue(tmp_path, text)
    assert key == "channels[0].content" and "needs a body field" in problem


def test_dismiss_rule_needs_a_dismiss_cta(tmp_path: Path) -> None:
    text = message().replace("action_type: DISMISS", "action_type: ACKNOWLEDGE")
    assert only_issue(tmp_path, text) == (
        "channels[0].options.dismiss",
        "a dismiss rule needs a CTA with action_type DISMISS",
    )


def test_options_of_other_channels_are_checked_by_their_own_contract(tmp_path: Path) -> None:
    # Once free, now typed per channel (tests/unit/test_channel_contracts.py): an
    # in-app option on a push step is an unknown push option.
    text = (
        message()
        .replace("channel: inapp", "channel: push")
        .replace("template: standard", "anything: 1")
    )
    found = check_catalog(write(tmp_path, text))
    assert "channels[0].options.anything" in {i.key for i in found}
    unknown = [i for i in found if i.problem.startswith("unknown push ")]
    assert [str(i) for i in found if i not in unknown] == [
        "messages/alert.yaml: channels[0].options.ttl: "
        "expected a whole number of at least 0, got '30d'"  # push's ttl is in seconds
    ]


def test_several_mistakes_are_all_reported(tmp_path: Path) -> None:
    text = message().replace("template: standard", "template: popup").replace("ttl: 30d", "ttl: x")
    assert {i.key for i in issues(tmp_path, text)} == {
        "channels[0].options.template",
        "channels[0].options.ttl",
    }


def test_render_follow_up_and_string_sources() -> None:
    catalog = load_catalog(EXAMPLE)
    context = {"profile": {}, "event": {"show_title": "Dark"}, "event_type": "payment.failed"}
    follow = catalog.render_follow_up("payment_failed", 0, "es", context)
    assert follow.fields["body"] == "Actualiza tu forma de pago para evitar interrupciones."
    assert follow.fields["title"] == "No se pudo procesar tu pago"
    with pytest.raises(RenderError, match="no follow-up"):
        catalog.render_follow_up("payment_failed", 1, "es", context)
    with pytest.raises(RenderError, match="no such message"):
        catalog.render_follow_up("nope", 0, "es", context)
    assert catalog.string_source("payment_failed.alert.title", "pt-BR") == "pt"
    assert catalog.string_source("payment_failed.alert.title", "fr") == "en"
    assert catalog.string_source("no.such.key", "en") is None
    assert "add_phone.alert.title" in catalog.declared_keys("pt-BR")
    assert "add_phone.alert.cta_add" not in catalog.declared_keys("pt-BR")


def notification_catalog(root: Path, image: str, picture: str) -> Path:
    (root / "messages").mkdir()
    (root / "strings").mkdir()
    (root / "messages" / "pick.yaml").write_text(
        "name: pick\nid: 1\ncategory: recommendations\ntrigger: {event: pick.ready}\n"
        "channels:\n  - channel: inapp\n    content:\n"
        "      title: pick.title\n      body: pick.body\n      image: pick.image\n"
        "    options: {template: notification}\n"
        f"example: {{event: {{picture: {picture!r}}}}}\n",
        encoding="utf-8",
    )
    (root / "strings" / "en.yaml").write_text(
        f"pick:\n  title: New\n  body: For you\n  image: {image!r}\n", encoding="utf-8"
    )
    (root / "strings" / "es.yaml").write_text("pick:\n  title: Nuevo\n", encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("image", "picture"),
    [
        ("http://img.example.com/a.jpg", ""),  # a literal plain-http URL
        ("{{ event.picture }}", "http://img.example.com/a.jpg"),  # the example's
        ("data:image/png;base64,AAAA", ""),
    ],
)
def test_an_image_devices_would_not_get_fails_the_check(
    tmp_path: Path, image: str, picture: str
) -> None:
    root = notification_catalog(tmp_path, image, picture)
    # Reported once, at the string that renders it (es falls back to en's).
    [issue] = check_catalog(root)
    assert (issue.file, issue.key) == ("strings/en.yaml", "pick.image")
    assert "https://" in issue.problem and "messages/pick.yaml" in issue.problem
    with pytest.raises(CatalogError, match=r"pick\.image"):
        load_catalog(root)


@pytest.mark.parametrize("picture", ["https://img.example.com/a.jpg", "/art/a.jpg"])
def test_https_and_app_path_images_pass_the_check(tmp_path: Path, picture: str) -> None:
    root = notification_catalog(tmp_path, "{{ event.picture }}", picture)
    assert check_catalog(root) == []
