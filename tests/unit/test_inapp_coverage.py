"""Localization coverage for screenshot QC: locales with strings, and fields they lack."""

from pathlib import Path

from clarion.catalog import load_catalog
from clarion.core.inapp_spec import Platform, Template
from clarion.inapp.coverage import inapp_coverage
from tests.unit.inapp_fixtures import EXAMPLE

MESSAGE = """\
name: hello
id: 1
category: account
trigger: {event: hello}
channels:
  - channel: inapp
    platforms: [web]
    content: {title: hello.title, body: hello.body, ok: hello.ok}
    options:
      ctas: [{field: ok, action_type: ACKNOWLEDGE, action: OK}]
  - channel: push
    content: {body: hello.body}
"""


def test_example_catalog_is_complete() -> None:
    found = inapp_coverage(load_catalog(EXAMPLE))
    assert [(a.message, a.step, a.variant) for a in found] == [
        ("add_phone", 0, "alert"),
        ("add_phone", 0, "follow_up"),
        ("payment_failed", 0, "alert"),
        ("payment_failed", 0, "follow_up"),
        ("top_pick", 0, "alert"),
    ]
    assert all(a.complete for a in found)
    follow = found[1]
    assert follow.template is Template.BANNER and follow.platforms == {Platform.WEB}
    assert follow.content["body"] == "add_phone.banner.body"
    assert [c.locale for c in follow.locales] == ["en", "es", "pt", "pt-BR"]
    pt_br = found[2].locales[3]
    # pt-BR copy falls back to its ancestor pt: in the reader's language, so not missing.
    assert pt_br.sources["title"] == "pt" and pt_br.sources["body"] == "pt-BR"


def test_fields_in_another_language_are_missing(tmp_path: Path) -> None:
    (tmp_path / "messages").mkdir()
    (tmp_path / "strings").mkdir()
    (tmp_path / "messages" / "hello.yaml").write_text(MESSAGE)
    strings = {
        "en": "hello: {title: Hello, body: Welcome, ok: OK}\n",
        "pt": "hello: {title: Olá, body: Bem-vindo}\n",
        "pt-PT": "hello: {ok: Está bem}\n",
        "pt-BR": "hello: {body: Bem-vindo!}\n",
        "es": "hello: {title: Hola, body: Bienvenido}\n",
        "de": "other: {x: y}\n",  # no strings for this message: no screenshots
    }
    for locale, text in strings.items():
        (tmp_path / "strings" / f"{locale}.yaml").write_text(text)
    (alert,) = inapp_coverage(load_catalog(tmp_path))
    assert not alert.complete
    by_locale = {c.locale: c for c in alert.locales}
    assert list(by_locale) == ["en", "es", "pt", "pt-BR", "pt-PT"]
    assert by_locale["en"].missing == ()
    assert by_locale["es"].missing == ("ok",)  # would show English "OK"
    assert by_locale["es"].sources["ok"] == "en"
    # Readers of pt get pt-PT's "ok", but the pt file itself lacks it.
    assert by_locale["pt"].sources["ok"] == "pt-PT" and by_locale["pt"].missing == ("ok",)
    # pt-BR's "ok" comes from its sibling pt-PT: Portuguese, but not pt-BR's own.
    assert by_locale["pt-BR"].sources == {"title": "pt", "body": "pt-BR", "ok": "pt-PT"}
    assert by_locale["pt-BR"].missing == ("ok",)
    assert by_locale["pt-PT"].missing == ()
